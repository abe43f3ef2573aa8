/**
 * Synthesizes the real Concord app (lib/app.ts, the same composition bin/concord.ts deploys) for
 * tests: bundling skipped (`aws:cdk:bundling-stacks: []`), CloudFormation's built-in validation
 * off unless asked for (it costs seconds per synth), cdk.json's context applied so tests see the
 * feature flags `cdk synth` sees, and a placeholder web build the test creates itself.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll } from 'vitest';
import { buildConcordApp, type ConcordStacks } from '../../../lib/app';
import { REPO_ROOT } from '../../../lib/lambda-defaults';

export interface SynthOptions {
  readonly stage?: 'dev' | 'prod';
  /** Extra context (`domainName`, `certificateArn`, `alarmEmail`, `webAclArn`, ...). */
  readonly context?: Record<string, unknown>;
  /** Stacks whose handlers esbuild really bundles (default none). */
  readonly bundlingStacks?: string[];
  readonly outdir?: string;
}

export interface Synthesized {
  readonly app: App;
  readonly stacks: ConcordStacks;
  readonly network: Template;
  readonly data: Template;
  readonly appStack: Template;
  readonly webDist: string;
}

/** Temporary folders made by this module, removed after the test file that made them. */
const scratchDirs: string[] = [];
afterAll(() => {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary folder removed after the current test file. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/** cdk.json's context (feature flags): what `cdk synth` passes to the app. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/**
 * A minimal web build: an entry point, a content-hashed asset and a root file. Its content is
 * fixed, so its asset hash is the same on every machine.
 */
export function placeholderWebDist(): string {
  const dir = scratchDir('concord-web-dist-');
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html><head><script type="module" src="/assets/index-3f2a1b9c.js"></script></head><body><div id="root"></div></body></html>\n');
  writeFileSync(join(dir, 'assets', 'index-3f2a1b9c.js'), 'document.getElementById("root").textContent = "Concord";\n');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  return dir;
}

export function synthConcord(options: SynthOptions = {}): Synthesized {
  const webDist = placeholderWebDist();
  const app = new App({
    outdir: options.outdir ?? scratchDir('concord-cdk-out-'),
    builtinCloudFormationValidation: false,
    context: {
      ...cdkJsonContext(),
      'aws:cdk:bundling-stacks': options.bundlingStacks ?? [],
      stage: options.stage ?? 'dev',
      webDist,
      ...options.context,
    },
  });
  const stacks = buildConcordApp(app);
  return {
    app,
    stacks,
    network: Template.fromStack(stacks.network),
    data: Template.fromStack(stacks.data),
    appStack: Template.fromStack(stacks.app),
    webDist,
  };
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] | string }>;

/** Resources of one type, as `[logicalId, resource]` pairs. */
export function resourcesOfType(template: Template, type: string): [string, { Properties: Record<string, any> }][] {
  const resources = template.toJSON().Resources as Resources;
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, { Properties: (r.Properties ?? {}) as Record<string, any> }]);
}

/** The one Lambda function whose environment names this POWERTOOLS_SERVICE_NAME. */
export function functionByService(template: Template, handler: string): { logicalId: string; props: Record<string, any> } {
  const matches = resourcesOfType(template, 'AWS::Lambda::Function').filter(
    ([, r]) => r.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === `concord-${handler}`,
  );
  if (matches.length !== 1) throw new Error(`expected one concord-${handler} function, found ${matches.length}`);
  return { logicalId: matches[0][0], props: matches[0][1].Properties };
}

/** Every statement of every IAM policy attached to a role (by the role's logical id). */
export function statementsOfRole(template: Template, roleLogicalId: string): Record<string, any>[] {
  return resourcesOfType(template, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Record<string, any>[]);
}

/** Actions granted to a role, flattened. */
export function actionsOfRole(template: Template, roleLogicalId: string): string[] {
  return statementsOfRole(template, roleLogicalId).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

/** Logical ids a resource refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn). */
export function referencesOf(resource: { Properties?: unknown; DependsOn?: string[] | string }, logicalIds: Set<string>): Set<string> {
  const out = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref' && typeof value === 'string' && logicalIds.has(value)) out.add(value);
      else if (key === 'Fn::GetAtt') {
        const target = Array.isArray(value) ? value[0] : String(value).split('.')[0];
        if (typeof target === 'string' && logicalIds.has(target)) out.add(target);
      } else if (key === 'Fn::Sub') {
        const text = Array.isArray(value) ? value[0] : value;
        for (const m of String(text).matchAll(/\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}/g)) if (logicalIds.has(m[1])) out.add(m[1]);
        if (Array.isArray(value)) visit(value[1]);
      } else visit(value);
    }
  };
  visit(resource.Properties);
  for (const dep of [resource.DependsOn ?? []].flat()) out.add(dep);
  return out;
}

/** A dependency cycle among a template's resources (as a path), or null. */
export function findCycle(template: Template): string[] | null {
  const resources = template.toJSON().Resources as Resources;
  const ids = new Set(Object.keys(resources));
  const edges = new Map([...ids].map((id) => [id, referencesOf(resources[id], ids)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const dfs = (id: string): string[] | null => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const next of edges.get(id) ?? []) {
      if (state.get(next) === 'visiting') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = dfs(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 'done');
    return null;
  };
  for (const id of ids) {
    if (!state.has(id)) {
      const found = dfs(id);
      if (found) return found;
    }
  }
  return null;
}
