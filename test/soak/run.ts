/**
 * `npm run soak -- [--clients 20] [--documents 10] [--interval <ms between two edits of one editor, 2000>] [--duration 120] [--seed 1] [--fuzz-cases 10000] [--no-restarts]`
 * The chaos soak against the local stack (see soak.ts and docs/failure-modes.md). With REDIS_URL
 * set, the cache is a real Redis behind the stack's killable proxy and the cache-kill fault runs.
 * Exits 1 on any lost acknowledged edit, divergence or fuzz problem.
 */
import { parseArgs } from 'node:util';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSoakReport, runSoak, soakPassed } from './soak';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '20' },
    documents: { type: 'string', default: '10' },
    interval: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '120' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    'fuzz-cases': { type: 'string', default: '10000' },
    'no-restarts': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('Usage: npm run soak -- [--clients 20] [--documents 10] [--interval <ms between two edits of one editor, 2000>] [--duration <seconds>] [--seed <n>] [--fuzz-cases 10000] [--no-restarts]');
  process.exit(0);
}
const positive = (name: string, raw: string, min: number) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min} (got "${raw}").`);
    process.exit(2);
  }
  return n;
};
const options = {
  root: resolve(dirname(fileURLToPath(import.meta.url)), '../..'),
  clients: positive('clients', values.clients, 1),
  documents: positive('documents', values.documents, 1),
  durationMs: positive('duration', values.duration, 1) * 1000,
  seed: positive('seed', values.seed, 0),
  fuzzCases: positive('fuzz-cases', values['fuzz-cases'], 0),
  editIntervalMs: positive('interval', values.interval, 50),
  redisUrl: process.env.REDIS_URL || undefined,
  databaseUrl: process.env.DATABASE_URL || undefined,
  restarts: !values['no-restarts'],
  log: (line: string) => console.log(`${new Date().toISOString()} ${line}`),
};
console.log(`soak seed ${options.seed} (rerun with --seed ${options.seed})`);
runSoak(options).then(
  (report) => {
    console.log(formatSoakReport(report));
    process.exit(soakPassed(report) ? 0 : 1);
  },
  (e: unknown) => {
    console.error(`soak failed to run: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
