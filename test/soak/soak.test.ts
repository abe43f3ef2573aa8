/**
 * A short chaos soak inside `npm test` (the long one is `npm run soak`): the local stack as a
 * child process, editors coming and going, every fault knob the stack has, one stack restart, and
 * fuzzing through the gateway. FM-8 (chaos testing) and, through it, FM-1.1, FM-1.5, FM-3.3,
 * FM-4.1 (with REDIS_URL), FM-4.2.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatSoakReport, runSoak } from './soak';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('chaos soak (short)', () => {
  it(
    'FM-8 FM-1.1 FM-1.5 FM-3.3 FM-4.1 FM-4.2: editors under injected faults and a stack restart lose no acknowledged edit and converge with the stored document',
    async () => {
      const report = await runSoak({
        root,
        clients: 4,
        documents: 2,
        durationMs: 20_000,
        seed: Number(process.env.SOAK_SEED ?? 20261128),
        fuzzCases: 200,
        // The mid-run restart covers restarts here; `npm run soak` also restarts at the end.
        finalRestart: false,
        redisUrl: process.env.REDIS_URL || undefined,
        databaseUrl: process.env.DATABASE_URL || undefined,
      });
      console.log(formatSoakReport(report));
      expect(report.problems).toEqual([]);
      expect(report.editsLost).toBe(0);
      expect(report.lostMarkers).toEqual([]);
      expect(report.divergent).toEqual([]);
      expect(report.editsAcknowledged).toBe(report.editsSent);
      // The run really exercised what it claims.
      expect(report.editsSent).toBeGreaterThan(30);
      expect(report.faultsInjected).toBeGreaterThan(5);
      expect(report.reconnects).toBeGreaterThan(0);
      expect(report.stackStarts).toBeGreaterThanOrEqual(2);
      expect(report.fuzz?.cases).toBe(200);
      if (process.env.REDIS_URL) expect(report.faults['cache-kill'] ?? 0).toBeGreaterThan(0);
    },
    300_000,
  );
});
