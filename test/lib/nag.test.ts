/**
 * cdk-nag AwsSolutions over the whole app, in every configuration that changes resources.
 * The gate: no finding may be left unacknowledged. The hygiene: every acknowledgement sits on
 * the one resource it concerns (never a stack or the app), names a finding that really occurs
 * there, and says why in a sentence.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildConcordApp } from '../../lib/app';
import { cdkJsonContext, placeholderWebDist } from './support/synth';

const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666';
const VARIANTS: Record<string, Record<string, unknown>> = {
  dev: { stage: 'dev' },
  prod: { stage: 'prod' },
  'prod with custom domain, WAF and alarm e-mail': {
    stage: 'prod',
    domainName: 'docs.example.com',
    certificateArn: CERT,
    webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/concord/abc',
    alarmEmail: 'ops@example.com',
  },
};

interface Finding {
  readonly rule: string;
  readonly path: string;
}

function build(context: Record<string, unknown>): App {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], webDist: placeholderWebDist(), ...context } });
  buildConcordApp(app);
  return app;
}

function findings(scope: IConstruct, ignoreAcknowledgements: boolean): Finding[] {
  const pack = new AwsSolutionsChecks();
  if (ignoreAcknowledgements) Object.defineProperty(pack, 'isAcknowledged', { value: () => false });
  return pack.validateScope(scope).violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })));
}

interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
  readonly node: IConstruct;
}

function acknowledgements(root: IConstruct): Acknowledgement[] {
  return root.node.findAll().flatMap((node) =>
    node.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ path: node.node.path, id: id.replace(/^annotation::/i, ''), reason, node }))
      .filter((a) => a.id.startsWith('AwsSolutions-')),
  );
}

const apps: Record<string, App> = {};

beforeAll(() => {
  for (const [name, context] of Object.entries(VARIANTS)) apps[name] = build(context);
});

describe('cdk-nag AwsSolutions', () => {
  it.each(Object.keys(VARIANTS))('%s: no unacknowledged finding', (name) => {
    expect(findings(apps[name], false).map((f) => `${f.rule} at ${f.path}`)).toEqual([]);
  });

  it.each(Object.keys(VARIANTS))('%s: every acknowledgement is on one resource, names a finding that occurs there, and gives a specific reason', (name) => {
    const app = apps[name];
    const raw = findings(app, true);
    const acks = acknowledgements(app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      const label = `${ack.id} at ${ack.path}`;
      expect(App.isApp(ack.node) || Stack.isStack(ack.node), `${label} is app- or stack-wide`).toBe(false);
      expect(ack.reason.length, `${label} needs a real reason`).toBeGreaterThanOrEqual(60);
      const covered = raw.filter((f) => f.rule === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)));
      expect(covered.length, `${label} acknowledges nothing (stale)`).toBeGreaterThan(0);
      expect(new Set(covered.map((f) => f.path)).size, `${label} covers several resources: ${covered.map((f) => f.path).join(', ')}`).toBe(1);
    }
  });

  it('reports an unacknowledged finding (the gate can fail)', () => {
    const app = new App();
    const stack = new Stack(app, 'Scratch');
    new sqs.Queue(stack, 'PlainQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const rules = findings(app, false).map((f) => f.rule);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });
});
