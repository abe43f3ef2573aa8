/**
 * `npm run drill -- --stage <name>`: failover drills against a deployed stage (FM-8). See
 * docs/drills.md. Needs AWS credentials for the stage's account and a signed-in user's cookies.
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { RDSClient } from '@aws-sdk/client-rds';
import { DrillError, discoverStage } from './drill/aws';
import { formatReport, runDrill, type DrillTarget } from './drill/run';
import { createSiteSession, socketUrl } from './drill/site';

const USAGE = `Usage: npm run drill -- --stage <name> [--only cache|database] [--doc <docId>] [--site https://...]
                     [--stack-prefix <prefix>] [--timeout <seconds>] [--region <region>]
Environment: CONCORD_DRILL_ACCESS_TOKEN (the concord_at cookie of a signed-in user),
             CONCORD_DRILL_REFRESH_TOKEN (optional, the concord_rt cookie, for drills over 15 minutes),
             AWS_REGION / AWS_PROFILE for the stage's account.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string' },
      only: { type: 'string' },
      doc: { type: 'string' },
      site: { type: 'string' },
      'stack-prefix': { type: 'string' },
      timeout: { type: 'string', default: '900' },
      region: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values.stage) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const targets: DrillTarget[] = values.only === 'cache' ? ['cache'] : values.only === 'database' ? ['database'] : ['cache', 'database'];
  const accessToken = process.env.CONCORD_DRILL_ACCESS_TOKEN;
  if (!accessToken) {
    console.error('Set CONCORD_DRILL_ACCESS_TOKEN to the concord_at cookie of a user signed in to the stage (browser dev tools, Application > Cookies).');
    return 2;
  }
  const clientConfig = values.region ? { region: values.region } : {};
  const stage = await discoverStage(new CloudFormationClient(clientConfig), values.stage, { stackPrefix: values['stack-prefix'] });
  const siteUrl = values.site ?? stage.siteUrl;
  if (!siteUrl) throw new DrillError('resource_not_found', `No site URL output found in stacks ${stage.stacks.join(', ')}; pass --site https://<distribution>.`);
  console.log(`stage ${stage.stage}: stacks ${stage.stacks.join(', ')}; cache ${stage.replicationGroupId ?? 'none'}; database ${stage.dbClusterId ?? 'none'}; site ${siteUrl}`);

  const site = createSiteSession(siteUrl, { accessToken, refreshToken: process.env.CONCORD_DRILL_REFRESH_TOKEN });
  const docId = values.doc ?? (await site.createDocument(`Failover drill ${new Date().toISOString()}`));
  console.log(`drill document ${docId}`);
  const timeoutMs = Number(values.timeout) * 1000;
  const report = await runDrill({
    elasticache: new ElastiCacheClient(clientConfig),
    rds: new RDSClient(clientConfig),
    replicationGroupId: stage.replicationGroupId,
    dbClusterId: stage.dbClusterId,
    targets,
    connect: () => new WebSocket(socketUrl(siteUrl, docId), { headers: site.socketHeaders() }),
    runId: randomUUID().slice(0, 8),
    poll: { timeoutMs, intervalMs: 5000, onStatus: (s) => console.log(`  ${new Date().toISOString()} ${s}`) },
    onReauth: () => site.refresh(),
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  console.log(formatReport(report));
  return report.editsLost === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof DrillError) console.error(`drill failed [${e.code}]: ${e.message}`);
    else console.error(`drill failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
