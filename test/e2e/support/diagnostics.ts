/**
 * What an e2e failure needs to be understood from a CI log alone: where each browser page is and
 * what its status says, its last console warnings and errors, a screenshot, the local stack's
 * last log lines and any stream record that went to its dead-letter file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { shot } from './browser';
import type { RunningStack } from './local-stack';

export interface WatchedPage {
  readonly name: string;
  readonly page: Page;
  /** Console warnings and errors collected by the test, if any. */
  readonly console?: readonly string[];
}

const tail = (text: string, lines: number) => text.split('\n').slice(-lines).join('\n');
const clip = (text: string, chars: number) => (text.length > chars ? `${text.slice(0, chars)}… (${text.length} chars)` : text);

async function describePage(p: WatchedPage, label: string): Promise<string> {
  if (p.page.isClosed()) return `${p.name}: page closed`;
  const status = await p.page.getByTestId('sync-status-label').first().textContent({ timeout: 1_000 }).catch(() => '(no status)');
  const editor = await p.page.getByTestId('editor').first().textContent({ timeout: 1_000 }).catch(() => null);
  await shot(p.page, `failure-${label}-${p.name}`).catch(() => undefined);
  return [
    `${p.name}: ${p.page.url()} status=${JSON.stringify(status)} editor=${editor === null ? '(none)' : `${editor.length} chars, ends ${JSON.stringify(editor.slice(-60))}`}`,
    ...(p.console ?? []).slice(-15).map((line) => `  console ${clip(line, 300)}`),
  ].join('\n');
}

/** Prints the report to stderr (vitest shows it with the failed test); never throws. */
export async function reportFailure(testName: string, stack: RunningStack | undefined, pages: readonly WatchedPage[]): Promise<void> {
  const label = testName.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40);
  const parts = [`---- diagnostics for the failed test "${testName}" ----`];
  for (const p of pages) parts.push(await describePage(p, label).catch((e) => `${p.name}: ${String(e)}`));
  if (stack) {
    const dlq = join(stack.dataDir, 'dlq.jsonl');
    if (existsSync(dlq)) parts.push('dead-letter records:', ...readFileSync(dlq, 'utf8').trim().split('\n').slice(-5).map((l) => `  ${clip(l, 600)}`));
    parts.push('local stack, last lines:', tail(stack.output(), 60));
  }
  console.error(parts.join('\n'));
}
