import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { createConcordApp } from '../../lib/app';
import { REPO_ROOT } from '../../lib/lambda-defaults';
import { cdkJsonContext, placeholderWebDist, scratchDir } from '../lib/support/synth';

const run = promisify(execFile);

const context = (extra: Record<string, unknown> = {}) => ({ ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], webDist: placeholderWebDist(), ...extra });

/** Runs bin/concord.ts the way the cdk CLI does (context and outdir through the environment). */
async function runBin(ctx: Record<string, unknown>): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bin', 'concord.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(ctx), CDK_OUTDIR: scratchDir('concord-bin-') },
      timeout: 120_000,
    });
    return { code: 0, stderr: '' };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? -1, stderr: failed.stderr ?? '' };
  }
}

describe('bin/concord.ts', () => {
  it('synthesizes the three stacks of the stage, passing the cdk-nag gate and CloudFormation template validation', () => {
    // As `cdk synth` runs it: built-in CloudFormation validation on (it reports, never throws).
    const { app } = createConcordApp({ outdir: scratchDir('concord-app-'), context: context({ stage: 'prod' }) });
    const assembly = app.synth();
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(['Concord-prod-App', 'Concord-prod-Data', 'Concord-prod-Network']);
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as { pluginReports: { violations?: unknown[] }[] };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  }, 180_000);

  it('fails the synth on an unacknowledged cdk-nag finding', () => {
    const { app, stacks } = createConcordApp({ builtinCloudFormationValidation: false, outdir: scratchDir('concord-app-'), context: context() });
    new sqs.Queue(stacks.app as Stack, 'UnencryptedQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2/);
  });

  it('tells the user what to do in one line, without a stack trace, when the web build is missing', async () => {
    const noWeb = await runBin(context({ webDist: join(tmpdir(), 'concord-no-such-build') }));
    expect(noWeb.code).toBe(1);
    expect(noWeb.stderr).toMatch(/^error \[web_build_missing\]: .*Run "npm run build:web"/m);
    expect(noWeb.stderr).not.toMatch(/\n\s+at /);
  }, 180_000);

  it('refuses an unknown stage with the accepted values (the same error path)', () => {
    expect(() => createConcordApp({ context: context({ stage: 'staging' }) })).toThrow(
      expect.objectContaining({ code: 'invalid_configuration', message: expect.stringMatching(/Unknown stage "staging"\. Deploy with -c stage=dev or -c stage=prod\./) }),
    );
  });
});
