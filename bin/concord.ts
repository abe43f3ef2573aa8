/**
 * The CDK app: `cdk synth|deploy -c stage=dev|prod` (see docs/deploy.md). Synthesizes offline
 * (no credentials, no Docker: handlers are bundled by the local esbuild). Every cdk-nag
 * AwsSolutions finding that is not acknowledged on its resource fails the synth.
 */
import { createConcordApp } from '../lib/app';
import { ConfigurationError } from '../lib/config';
import { MissingWebBuildError } from '../lib/edge';

try {
  createConcordApp().app.synth();
} catch (error) {
  if (error instanceof ConfigurationError || error instanceof MissingWebBuildError) {
    // A mistake the user can fix: one line, no stack trace.
    process.stderr.write(`error [${error.code}]: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
