/**
 * End-to-end, in a real browser (Debian Chromium via playwright-core) against the local stack
 * started as `npm start` does: sign-in, sharing, concurrent typing, offline editing across a
 * reload, a 1 MB paste, read-only viewers, an XSS paste, and where the credentials live.
 * Screenshots of the main screens go to test-artifacts/screenshots/.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import type { Browser, BrowserContext, Page, WebSocket } from 'playwright-core';
import { startLocalStack, type RunningStack } from './support/local-stack';
import { editorText, launchChromium, newUserContext, paste, shot, signIn, waitForStatus } from './support/browser';
import { reportFailure } from './support/diagnostics';

let stack: RunningStack;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** Every user signed in so far (reported when a test fails). */
const users: User[] = [];

/** One signed-in user: a browser context (its own cookies and IndexedDB) with one page. */
interface User {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly dialogs: string[];
  readonly pageErrors: string[];
  /** Console warnings and errors, for failure messages. */
  readonly console: string[];
  /** Every WebSocket the page opened. */
  readonly sockets: WebSocket[];
}

async function user(name: string, options: { viaForm?: boolean; screenshotPrefix?: string } = {}): Promise<User> {
  const context = await newUserContext(browser, stack.origin);
  contexts.push(context);
  const page = await context.newPage();
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  // Any alert/confirm/prompt would be an executed payload: record it and dismiss it.
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const consoleLines: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'warning' || m.type() === 'error') consoleLines.push(`${m.type()}: ${m.text()}`);
  });
  await signIn(page, name, options);
  const sockets: WebSocket[] = [];
  page.on('websocket', (ws) => sockets.push(ws));
  const signedIn = { name, context, page, dialogs, pageErrors, console: consoleLines, sockets };
  users.push(signedIn);
  return signedIn;
}

async function openDoc(u: User, docId: string): Promise<void> {
  await u.page.goto(`/d/${docId}`);
  await u.page.getByTestId('editor').waitFor();
  await waitForStatus(u.page, 'Saved');
}

/** Shares through the share dialog, as an owner does. */
async function share(owner: User, userId: string, role: 'viewer' | 'editor' | 'owner'): Promise<void> {
  const page = owner.page;
  await page.getByRole('button', { name: 'Share' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Add people by name').fill(userId.slice(0, 2));
  // Suggestions come from /api/users (people who signed in at least once).
  await dialog.getByRole('option', { name: new RegExp(userId) }).click();
  await dialog.getByLabel('Role', { exact: true }).selectOption(role);
  await dialog.getByRole('button', { name: 'Invite' }).click();
  await dialog.getByRole('status').filter({ hasText: `${userId} is now ${role}` }).waitFor();
  await dialog.getByRole('list', { name: 'People with access' }).getByText(userId, { exact: true }).waitFor();
  await dialog.getByRole('button', { name: 'Done' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

let alice: User;
let bob: User;
let docId: string;

beforeAll(async () => {
  // Compact often, so that documents in these tests have snapshots to load over HTTPS.
  [stack, browser] = await Promise.all([startLocalStack({ env: { CONCORD_COMPACT_AFTER_ENTRIES: '10' } }), launchChromium()]);
}, 120_000);

beforeEach(({ task, onTestFailed }) => onTestFailed(() => reportFailure(task.name, stack, users)));

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await stack?.stop();
}, 60_000);

describe('Concord in a real browser', () => {
  it('FM-4.4: signs in through the local sign-in page; auth cookies are httpOnly and no token is readable by scripts or kept in storage', async () => {
    alice = await user('alice', { viaForm: true, screenshotPrefix: '01' });
    const page = alice.page;
    await page.getByRole('heading', { name: 'Documents', exact: true }).waitFor();
    await shot(page, '02-document-list-empty');

    const cookies = await alice.context.cookies();
    const auth = cookies.filter((c) => c.name === 'concord_at' || c.name === 'concord_rt');
    expect(auth.map((c) => c.name).sort()).toEqual(['concord_at', 'concord_rt']);
    for (const c of auth) expect(c.httpOnly, `${c.name} must be httpOnly`).toBe(true);
    for (const c of auth) expect(c.sameSite).toBe('Strict');

    const visible = await page.evaluate(() => ({ cookie: document.cookie, local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }) }));
    for (const c of auth) {
      expect(visible.cookie).not.toContain(c.value);
      expect(visible.local).not.toContain(c.value);
      expect(visible.session).not.toContain(c.value);
    }
    // No JWT of any kind (they all start with a base64url '{"' header) in script-visible storage.
    expect(visible.local).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(visible.session).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(visible.cookie).not.toMatch(/concord_(at|rt)=/);
  });

  it('creates and renames a document from the list, then opens it', async () => {
    const page = alice.page;
    await page.getByLabel('Title of the new document').fill('Launch plan draft');
    await page.getByRole('button', { name: 'New document' }).click();
    await page.waitForURL(/\/d\/[^/]+$/);
    docId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
    await page.getByTestId('editor').waitFor();
    await waitForStatus(page, 'Saved');

    await page.getByRole('link', { name: 'Back to your documents' }).click();
    const row = page.locator(`[data-doc-id="${docId}"]`);
    await row.getByRole('button', { name: /^Rename/ }).click();
    await row.getByRole('textbox').fill('Launch plan');
    await row.getByRole('button', { name: 'Save' }).click();
    await row.getByRole('link', { name: 'Launch plan', exact: true }).waitFor();
    await shot(page, '03-document-list');
    await page.reload();
    await page.locator(`[data-doc-id="${docId}"]`).getByRole('link', { name: 'Launch plan', exact: true }).waitFor();

    await page.locator(`[data-doc-id="${docId}"]`).getByRole('link', { name: /^Open/ }).click();
    await page.getByTestId('editor').waitFor();
    await expect.poll(() => page.getByLabel('Document title').inputValue()).toBe('Launch plan');
  });

  it('FM-1.4: two users typing concurrently into the same paragraph end with identical text containing both', async () => {
    bob = await user('bob');
    await openDoc(alice, docId);
    await share(alice, 'bob', 'editor');
    await openDoc(bob, docId);

    await alice.page.getByTestId('editor').click();
    await alice.page.keyboard.type('Shared paragraph: ');
    await expect.poll(() => editorText(bob.page), { timeout: 20_000 }).toBe('Shared paragraph: ');

    // Both carets at the end of the same paragraph, then both type at once.
    for (const u of [alice, bob]) {
      await u.page.getByTestId('editor').click();
      await u.page.keyboard.press('End');
    }
    const aliceWords = 'alpha bravo charlie delta echo ';
    const bobWords = 'one two three four five six ';
    await Promise.all([alice.page.keyboard.type(aliceWords, { delay: 15 }), bob.page.keyboard.type(bobWords, { delay: 15 })]);

    await Promise.all([waitForStatus(alice.page, 'Saved'), waitForStatus(bob.page, 'Saved')]);
    await expect.poll(async () => (await editorText(alice.page)) === (await editorText(bob.page)), { timeout: 20_000 }).toBe(true);
    const text = await editorText(alice.page);
    expect(text.split('\n')).toHaveLength(1);
    expect(text.startsWith('Shared paragraph: ')).toBe(true);
    // Each user's keystrokes arrive whole and in order (interleaving with the other's is fine).
    const typed = text.slice('Shared paragraph: '.length);
    const isSubsequence = (needle: string, hay: string) => {
      let i = 0;
      for (const ch of hay) if (ch === needle[i]) i++;
      return i === needle.length;
    };
    expect(typed.length).toBe(aliceWords.length + bobWords.length);
    expect(isSubsequence(aliceWords, typed)).toBe(true);
    expect(isSubsequence(bobWords, typed)).toBe(true);
    expect([...typed].sort().join('')).toBe([...(aliceWords + bobWords)].sort().join(''));

    // Presence: each sees the other, and the other's caret carries their name.
    await alice.page.getByTestId('presence').getByText('bob', { exact: true }).waitFor({ state: 'attached' });
    await bob.page.locator('.collaboration-carets__label', { hasText: 'alice' }).waitFor();
    await alice.page.locator('.collaboration-carets__label', { hasText: 'bob' }).waitFor();
    await shot(alice.page, '04-editor-two-users');
  });

  it('undo reverts only your own changes, never a collaborator’s', async () => {
    for (const u of [alice, bob]) {
      await u.page.getByTestId('editor').click();
      await u.page.keyboard.press('Control+End');
    }
    // Yjs's undo manager merges a user's changes made within 500 ms into one undo step: pause
    // like a person would, so the previous test's last keystrokes are not undone with this edit.
    await alice.page.waitForTimeout(1_000);
    const before = await editorText(alice.page);
    await alice.page.keyboard.insertText(' [alice: undo me]');
    await expect.poll(() => editorText(bob.page), { timeout: 20_000 }).toContain('[alice: undo me]');
    await bob.page.keyboard.press('Control+End');
    await bob.page.keyboard.insertText(' [bob: keep me]');
    await expect.poll(() => editorText(alice.page), { timeout: 20_000 }).toContain('[bob: keep me]');

    await alice.page.getByRole('button', { name: 'Undo your last change' }).click();
    const expected = `${before} [bob: keep me]`;
    await expect.poll(() => editorText(alice.page), { timeout: 20_000 }).toBe(expected);
    await expect.poll(() => editorText(bob.page), { timeout: 20_000 }).toBe(expected);
    await alice.page.keyboard.press('Control+Shift+z');
    await expect.poll(() => editorText(bob.page), { timeout: 20_000 }).toContain('[alice: undo me]');
    await alice.page.keyboard.press('Control+z');
    await expect.poll(() => editorText(bob.page), { timeout: 20_000 }).toBe(expected);
    await Promise.all([waitForStatus(alice.page, 'Saved'), waitForStatus(bob.page, 'Saved')]);
  });

  it('FM-1.1, FM-6.1: a user who goes offline keeps typing, reloads, comes back, and nothing is lost', async () => {
    const page = bob.page;
    // The offline shell (service worker) must hold the app before the network goes away.
    await expect
      .poll(
        () =>
          page.evaluate(async () => {
            const registration = await navigator.serviceWorker.getRegistration('/');
            const keys = (await (await caches.open('concord-shell-v1')).keys()).map((r) => new URL(r.url).pathname);
            return {
              worker: registration?.active?.state ?? registration?.installing?.state ?? registration?.waiting?.state ?? 'none',
              controlled: navigator.serviceWorker.controller !== null,
              shell: keys.includes('/'),
              editorChunk: keys.some((k) => k.includes('EditorPage')),
            };
          }),
        { timeout: 30_000, message: `offline shell not ready; console: ${bob.console.join(' | ')}` },
      )
      .toEqual({ worker: 'activated', controlled: true, shell: true, editorChunk: true });

    const before = await editorText(page);
    expect(bob.sockets.filter((ws) => !ws.isClosed())).toHaveLength(1);
    // Back online whatever happens, so a failure here does not also fail the tests after it.
    onTestFinished(() => bob.context.setOffline(false));
    await bob.context.setOffline(true);
    await waitForStatus(page, /^Offline/);
    // The provider closed its socket on the `offline` event (emulation alone would leave it open).
    await expect.poll(() => bob.sockets.filter((ws) => !ws.isClosed()).length).toBe(0);
    await page.getByTestId('editor').click();
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    const offlineLine = 'Written offline, kept across a reload.';
    await page.keyboard.type(offlineLine);
    await waitForStatus(page, /^Offline — \d+ changes? pending$/);
    await shot(page, '05-offline-pending');
    // Alice sees nothing yet: the socket is closed.
    expect(await editorText(alice.page)).toBe(before);

    // Reload at once: the last keystrokes may not be committed to IndexedDB yet; the reload
    // journal (web/src/sync/reload-journal.ts) covers them.
    await page.reload();
    await page.getByTestId('editor').waitFor();
    await expect.poll(() => editorText(page)).toBe(`${before}\n${offlineLine}`);
    await waitForStatus(page, /^Offline — \d+ changes? pending$/);
    expect(await editorText(alice.page)).toBe(before);

    await bob.context.setOffline(false);
    await waitForStatus(page, 'Saved', 30_000);
    await expect.poll(() => editorText(alice.page), { timeout: 20_000 }).toBe(`${before}\n${offlineLine}`);
  }, 120_000);

  it('FM-6.3: a 1 MB paste arrives intact at the other user', async () => {
    // ~1 MB of varied text in 1,024 paragraphs of 1 KB (a realistic long paste).
    const lines = Array.from({ length: 1024 }, (_, i) => `${String(i).padStart(4, '0')} ` + Array.from({ length: 1019 }, (_, j) => String.fromCharCode(97 + ((i * 31 + j * 7) % 26))).join(''));
    const text = lines.join('\n');
    expect(text.length).toBeGreaterThanOrEqual(1024 * 1024);

    await alice.page.getByTestId('editor').click();
    await alice.page.keyboard.press('Control+End');
    await alice.page.keyboard.press('Enter');
    const before = await editorText(alice.page);
    await paste(alice.page, { text });
    await waitForStatus(alice.page, 'Saved', 60_000);
    const expected = `${before}${lines[0]}\n${lines.slice(1).join('\n')}`;
    await expect.poll(() => editorText(alice.page), { timeout: 30_000 }).toBe(expected);
    await expect.poll(() => editorText(bob.page), { timeout: 60_000, interval: 500 }).toBe(expected);
  }, 120_000);

  it('FM-5.2, FM-6.3: a viewer cannot type, and the editor says why; a large document first loads its snapshot over HTTPS', async () => {
    const carol = await user('carol');
    await share(alice, 'carol', 'viewer');
    // The large first load goes over HTTPS only once a snapshot exists. Compact now (the local
    // stack's admin endpoint runs the compact handler) instead of depending on how many op-log
    // entries the clients' batching happened to produce.
    const compacted = await fetch(`${stack.origin}/_local/compact`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ docIds: [docId] }) });
    expect(compacted.status, await compacted.text()).toBeLessThan(300);
    const snapshotResponses: { url: string; status: number; cacheControl: string }[] = [];
    carol.page.on('response', (r) => {
      if (r.url().includes('/snapshots/')) snapshotResponses.push({ url: new URL(r.url()).pathname, status: r.status(), cacheControl: r.headers()['cache-control'] ?? '' });
    });
    await carol.page.goto(`/d/${docId}`);
    const editor = carol.page.getByTestId('editor');
    await editor.waitFor();
    await waitForStatus(carol.page, 'Saved', 60_000);
    const reason = carol.page.getByTestId('read-only-reason');
    await expect.poll(() => reason.textContent()).toMatch(/View only\..*viewer.*Ask the owner \(alice\) for editor access/);
    expect(await editor.getAttribute('contenteditable')).toBe('false');
    expect(await editor.getAttribute('aria-readonly')).toBe('true');
    expect(await carol.page.getByRole('toolbar', { name: 'Formatting' }).count()).toBe(0);
    // Carol has no local copy: the 1 MB document came as a versioned, immutable snapshot first.
    expect(snapshotResponses[0]).toMatchObject({ url: `/api/docs/${docId}/snapshots/latest`, status: 200 });
    expect(snapshotResponses[1]?.url).toMatch(new RegExp(`^/api/docs/${docId}/snapshots/\\d+$`));
    expect(snapshotResponses[1]).toMatchObject({ status: 200 });
    expect(snapshotResponses[1].cacheControl).toContain('immutable');

    const before = await editorText(carol.page);
    await editor.click();
    await carol.page.keyboard.type('viewer was here');
    await paste(carol.page, { text: 'viewer paste' });
    await carol.page.keyboard.press('Control+End');
    await carol.page.keyboard.press('Backspace');
    expect(await editorText(carol.page)).toBe(before);
    // And nothing reached the others.
    await alice.page.getByTestId('editor').click();
    await alice.page.keyboard.press('Control+End');
    await alice.page.keyboard.type('!');
    await expect.poll(() => editorText(carol.page), { timeout: 20_000 }).toBe(`${before}!`);
    await carol.page.evaluate(() => window.scrollTo(0, 0));
    await shot(carol.page, '06-viewer-read-only');
  }, 120_000);

  it('FM-3.6: an XSS paste payload does not execute and is not stored', async () => {
    // A small document of its own, so the checks below read only what this test pasted.
    await alice.page.goto('/');
    await alice.page.getByLabel('Title of the new document').fill('Paste test');
    await alice.page.getByRole('button', { name: 'New document' }).click();
    await alice.page.waitForURL(/\/d\/[^/]+$/);
    const xssDoc = decodeURIComponent(new URL(alice.page.url()).pathname.split('/')[2]);
    await alice.page.getByTestId('editor').waitFor();
    await waitForStatus(alice.page, 'Saved');
    await share(alice, 'bob', 'editor');
    await openDoc(bob, xssDoc);

    const payload = [
      '<p>Before <b>bold</b> <a href="https://example.com/ok">good link</a></p>',
      '<img src="x" onerror="window.__xss=(window.__xss||0)+1;alert(1)">',
      '<script>window.__xss=(window.__xss||0)+1;alert(2)</script>',
      '<p onclick="window.__xss=1" onmouseover="window.__xss=1" style="background:url(javascript:alert(3))">handler paragraph</p>',
      '<a href="javascript:window.__xss=(window.__xss||0)+1;alert(4)">evil link</a>',
      '<a href="JaVaScRiPt&colon;alert(5)">entity link</a>',
      '<a href=" java\tscript:alert(6)">tab link</a>',
      '<a href="data:text/html,<script>alert(7)</script>">data link</a>',
      '<iframe src="javascript:alert(8)"></iframe>',
      '<svg><script>alert(9)</script></svg><svg onload="alert(10)"></svg>',
      '<math><mtext><table><mglyph><style><img src=x onerror=alert(11)></style></mglyph></table></mtext></math>',
      '<form action="javascript:alert(12)"><button>form button</button></form>',
      '<p>After</p>',
    ].join('');
    await alice.page.getByTestId('editor').click();
    await paste(alice.page, { html: payload, text: 'fallback text' });
    await waitForStatus(alice.page, 'Saved');
    await expect.poll(() => editorText(bob.page), { timeout: 20_000 }).toContain('After');

    // Try to trigger whatever might have survived.
    for (const name of ['evil link', 'entity link', 'tab link', 'data link']) {
      const link = bob.page.getByTestId('editor').getByText(name);
      if (await link.count()) await link.click({ modifiers: ['Control'] });
    }
    await bob.page.getByTestId('editor').getByText('handler paragraph').hover();
    await bob.page.getByTestId('editor').getByText('handler paragraph').click();

    const dangerous = (page: Page) =>
      page.getByTestId('editor').evaluate((root) => {
        const found: string[] = [];
        root.querySelectorAll('*').forEach((el) => {
          // ProseMirror's own caret helper (<img class="ProseMirror-separator">, no src) is not content.
          const separator = el.tagName === 'IMG' && el.classList.contains('ProseMirror-separator') && !el.hasAttribute('src');
          if (!separator && /^(script|iframe|img|svg|math|form|object|embed|style)$/i.test(el.tagName)) found.push(`<${el.tagName.toLowerCase()}>`);
          for (const attr of el.getAttributeNames()) {
            const value = el.getAttribute(attr) ?? '';
            if (/^on/i.test(attr)) found.push(`${attr}=`);
            if (/^(href|src|action|xlink:href|formaction)$/i.test(attr) && !/^(https?:|mailto:|tel:|$)/i.test(value.trim())) found.push(`${attr}=${value}`);
          }
        });
        return found;
      });

    for (const u of [alice, bob]) {
      expect(await dangerous(u.page), `${u.name}'s editor`).toEqual([]);
      expect(await u.page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      expect(u.dialogs).toEqual([]);
    }
    // The safe parts survive as document structure, the dangerous links only as plain text.
    expect(await bob.page.getByTestId('editor').locator('a[href="https://example.com/ok"]').count()).toBe(1);
    expect(await bob.page.getByTestId('editor').locator('a').count()).toBe(1);
    expect(await bob.page.getByTestId('editor').locator('strong').count()).toBe(1);

    // Not stored: a browser with no local copy loads the document from the server alone.
    const fresh = await user('alice');
    await openDoc(fresh, xssDoc);
    await expect.poll(() => editorText(fresh.page)).toContain('After');
    expect(await dangerous(fresh.page)).toEqual([]);
    const html = await fresh.page.getByTestId('editor').innerHTML();
    expect(html).not.toMatch(/javascript:|onerror|onclick|onload|<script|<iframe|<img [^>]*src|data:text/i);
    expect(fresh.dialogs).toEqual([]);
    await shot(fresh.page, '07-after-xss-paste');
  }, 120_000);

  it('share dialog and sign-out: the owner sees members with roles; signing out clears the session', async () => {
    await openDoc(alice, docId);
    await alice.page.getByRole('button', { name: 'Share' }).click();
    const dialog = alice.page.getByRole('dialog');
    const members = dialog.getByRole('list', { name: 'People with access' });
    await members.getByText('bob', { exact: true }).waitFor();
    await members.getByText('carol', { exact: true }).waitFor();
    expect(await dialog.getByLabel('Role of carol').inputValue()).toBe('viewer');
    await shot(alice.page, '08-share-dialog');
    await dialog.getByRole('button', { name: 'Done' }).click();

    await alice.page.getByRole('button', { name: 'Sign out' }).click();
    await alice.page.getByRole('link', { name: 'Sign in to continue' }).waitFor();
    const res = await alice.page.request.get('/api/me');
    expect(res.status()).toBe(401);
    for (const u of [alice, bob]) expect(u.pageErrors).toEqual([]);
  });
});
