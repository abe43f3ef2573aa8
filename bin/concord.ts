/**
 * The CDK app: `cdk synth|deploy -c stage=dev|prod` (see docs/deploy.md). Synthesizes offline
 * (no credentials, no Docker: handlers are bundled by the local esbuild). Every cdk-nag
 * AwsSolutions finding that is not acknowledged on its resource fails the synth.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildConcordApp } from '../lib/app';

const app = new App();
buildConcordApp(app);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
