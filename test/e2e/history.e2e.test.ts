/**
 * Version history in a real browser against the local stack (issue 9): an editor names a version,
 * deletes most of the text, previews the version with the differing blocks highlighted and
 * restores it; a viewer browsing the same history (without Restore) sees the restored text arrive
 * live through the op-log stream (FM-7.3).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startLocalStack, type RunningStack } from './support/local-stack';
import { editorText, launchChromium, newUserContext, shot, signIn, waitForStatus } from './support/browser';
import { reportFailure, type WatchedPage } from './support/diagnostics';

let stack: RunningStack;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pages: WatchedPage[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startLocalStack(), launchChromium()]);
}, 120_000);

beforeEach(({ task, onTestFailed }) => onTestFailed(() => reportFailure(task.name, stack, pages)));

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await stack?.stop();
}, 60_000);

async function userPage(name: string): Promise<Page> {
  const context = await newUserContext(browser, stack.origin);
  contexts.push(context);
  const page = await context.newPage();
  const consoleLines: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'warning' || m.type() === 'error') consoleLines.push(`${m.type()}: ${m.text()}`);
  });
  pages.push({ name, page, console: consoleLines });
  await signIn(page, name);
  return page;
}

async function openDoc(page: Page, docId: string): Promise<void> {
  await page.goto(`/d/${docId}`);
  await page.getByTestId('editor').waitFor();
  await waitForStatus(page, 'Saved');
}

async function openHistory(page: Page): Promise<ReturnType<Page['getByTestId']>> {
  await page.getByRole('button', { name: 'History', exact: true }).click();
  const panel = page.getByTestId('history-panel');
  await panel.waitFor();
  return panel;
}

const ORIGINAL = 'Original first paragraph\nOriginal second paragraph\nOriginal third paragraph';

describe('version history panel (issue 9)', () => {
  it('FM-7.3: an editor names, previews and restores a version; a viewer browses it and sees the restore arrive live', async () => {
    const [alice, vera] = await Promise.all([userPage('alice'), userPage('vera')]);
    const created = await alice.request.post('/api/docs', { data: { title: 'History e2e' } });
    expect(created.status()).toBe(201);
    const docId = (await created.json()).docId as string;
    expect((await alice.request.put(`/api/docs/${docId}/members/vera`, { data: { role: 'viewer' } })).status()).toBe(200);

    await openDoc(alice, docId);
    await alice.getByTestId('editor').click();
    await alice.keyboard.type(ORIGINAL.split('\n').join('\r'), { delay: 5 });
    await expect.poll(() => editorText(alice), { timeout: 20_000 }).toBe(ORIGINAL);
    await waitForStatus(alice, 'Saved');

    const alicePanel = await openHistory(alice);
    await alicePanel.getByLabel('Name this version').fill('Before cuts');
    await alicePanel.getByRole('button', { name: 'Save' }).click();
    await alicePanel.getByRole('button', { name: /Before cuts/ }).waitFor();
    await alicePanel.getByRole('button', { name: /Before cuts/ }).filter({ hasText: 'by alice' }).waitFor();

    // A large deletion after the version.
    await alice.getByTestId('editor').click();
    await alice.keyboard.press('Control+a');
    await alice.keyboard.press('Backspace');
    await alice.keyboard.type('Rewritten');
    await expect.poll(() => editorText(alice), { timeout: 20_000 }).toBe('Rewritten');
    await waitForStatus(alice, 'Saved');

    // The viewer browses: preview yes, Restore and naming no.
    await openDoc(vera, docId);
    await expect.poll(() => editorText(vera), { timeout: 20_000 }).toBe('Rewritten');
    const veraPanel = await openHistory(vera);
    await veraPanel.getByRole('button', { name: /Before cuts/ }).click();
    const veraPreview = veraPanel.getByTestId('history-preview');
    await veraPreview.getByText('Original second paragraph').waitFor();
    expect(await veraPanel.getByRole('button', { name: 'Restore this version' }).count()).toBe(0);
    expect(await veraPanel.getByLabel('Name this version').count()).toBe(0);

    // The editor previews it with the differing blocks highlighted, then restores it.
    await alicePanel.getByRole('button', { name: /Before cuts/ }).click();
    const alicePreview = alicePanel.getByTestId('history-preview');
    await alicePreview.getByText('Original third paragraph').waitFor();
    await expect.poll(() => alicePreview.locator('[data-changed="true"]').count()).toBe(3);
    await expect.poll(() => alicePanel.getByTestId('history-diff-summary').textContent()).toContain('3 blocks differ');
    await shot(alice, 'history-01-preview');
    await alicePanel.getByRole('button', { name: 'Restore this version' }).click();
    await alicePanel.getByRole('status').filter({ hasText: 'Restored' }).waitFor();

    // The restore is an op-log entry: it reaches both pages live, without a reload.
    await expect.poll(() => editorText(vera), { timeout: 20_000 }).toBe(ORIGINAL);
    await expect.poll(() => editorText(alice), { timeout: 20_000 }).toBe(ORIGINAL);
    // The open previews compare against the live document: nothing differs any more.
    await expect.poll(() => veraPanel.getByTestId('history-diff-summary').textContent(), { timeout: 20_000 }).toBe('Same as the current document');
    expect(await alicePreview.locator('[data-changed="true"]').count()).toBe(0);
    await shot(vera, 'history-02-viewer-after-restore');
  }, 120_000);
});
