/**
 * One normalized snapshot per stack (dev stage). Bundling is skipped, so asset hashes depend on
 * the folder the repository sits in; every 64-hex hash is replaced, which makes the snapshots
 * identical across folders and machines. A change to any resource shows up here as a diff to
 * review (`npx vitest run test/lib/snapshot.test.ts -u` accepts it).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
});

/** Stable JSON: hashes replaced by a placeholder. */
export function normalize(template: unknown): string {
  return `${JSON.stringify(template, null, 2).replace(/[0-9a-f]{64}/g, '<asset-hash>')}\n`;
}

describe('template snapshots', () => {
  it('normalization replaces asset hashes and nothing else', () => {
    const hash = 'a'.repeat(64);
    expect(normalize({ S3Key: `${hash}.zip`, Name: 'deadbeef' })).toBe(`{\n  "S3Key": "<asset-hash>.zip",\n  "Name": "deadbeef"\n}\n`);
  });

  it.each([
    ['Concord-dev-Network', () => dev.network],
    ['Concord-dev-Data', () => dev.data],
    ['Concord-dev-App', () => dev.appStack],
  ] as const)('%s matches its snapshot', async (stackName, template) => {
    await expect(normalize(template().toJSON())).toMatchFileSnapshot(join(__dirname, '__snapshots__', `${stackName}.template.json`));
  });
});
