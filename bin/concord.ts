/**
 * The CDK app: `cdk synth|deploy -c stage=dev|prod` (see docs/deploy.md). Synthesizes offline
 * (no credentials, no Docker: handlers are bundled by the local esbuild). Every cdk-nag
 * AwsSolutions finding that is not acknowledged on its resource fails the synth.
 */
import { resolve } from 'node:path';
import { createConcordApp } from '../lib/app';
import { ConfigurationError } from '../lib/config';
import { MissingWebBuildError } from '../lib/edge';
import { WebBuildError, ensureWebBuilt } from '../local/web-build';

const fail = (code: string, message: string): never => {
  // A mistake the user can fix: one line, no stack trace.
  process.stderr.write(`error [${code}]: ${message}\n`);
  process.exit(1);
};

// The site is deployed from web/dist: build it first when it is missing or older than its
// sources, so `cdk deploy` never ships a stale client. `-c webDist=<dir>` deploys that folder as is.
const context = JSON.parse(process.env.CDK_CONTEXT_JSON ?? '{}') as { webDist?: string };
if (!context.webDist) {
  try {
    await ensureWebBuilt(resolve(import.meta.dirname, '..'), (line) => process.stderr.write(`${line}\n`));
  } catch (error) {
    if (error instanceof WebBuildError) fail(error.code, error.message);
    throw error;
  }
}

try {
  createConcordApp().app.synth();
} catch (error) {
  if (error instanceof ConfigurationError || error instanceof MissingWebBuildError) fail(error.code, error.message);
  throw error;
}
