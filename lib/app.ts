/**
 * Composes Concord's stacks for one stage. Used by `bin/concord.ts` and by the tests, so what
 * the tests check is exactly what `cdk deploy` deploys.
 */
import { join, resolve } from 'node:path';
import { App, type AppProps, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadStageConfig, type StageConfig } from './config';
import { REPO_ROOT } from './lambda-defaults';
import { AppStack } from './stacks/app-stack';
import { DataStack } from './stacks/data-stack';
import { NetworkStack } from './stacks/network-stack';

export interface ConcordStacks {
  readonly config: StageConfig;
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly app: AppStack;
}

/** Default web build folder; `-c webDist=<dir>` overrides it. */
export const DEFAULT_WEB_DIST = join(REPO_ROOT, 'web', 'dist');

export function buildConcordApp(app: App): ConcordStacks {
  const config = loadStageConfig((key) => app.node.tryGetContext(key));
  const webDistContext = app.node.tryGetContext('webDist') as string | undefined;
  const webDist = webDistContext ? resolve(webDistContext) : DEFAULT_WEB_DIST;

  const network = new NetworkStack(app, `${config.stackPrefix}-Network`, {
    config,
    description: `Concord ${config.stage}: VPC, endpoints, flow logs`,
  });
  const data = new DataStack(app, `${config.stackPrefix}-Data`, {
    config,
    network: network.network,
    description: `Concord ${config.stage}: stateful resources (tables, Aurora, ElastiCache, users, logs)`,
    terminationProtection: config.deletionProtection,
  });
  const appStack = new AppStack(app, `${config.stackPrefix}-App`, {
    config,
    network: network.network,
    data,
    webDist,
    description: `Concord ${config.stage}: handlers, APIs, CloudFront, observability`,
  });
  Tags.of(app).add('project', 'concord');
  Tags.of(app).add('stage', config.stage);
  return { config, network, data, app: appStack };
}

/**
 * The deployable app (bin/concord.ts): the stacks plus the cdk-nag AwsSolutions plugin, so an
 * unacknowledged finding fails `cdk synth` and `cdk deploy`.
 */
export function createConcordApp(props: AppProps = {}): { app: App; stacks: ConcordStacks } {
  const app = new App(props);
  const stacks = buildConcordApp(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stacks };
}
