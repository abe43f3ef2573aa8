/**
 * Real Chromium (Debian's /usr/bin/chromium) through playwright-core, and helpers that act like
 * a user: sign in through the local sign-in, read the editor's text as a reader sees it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = resolve(import.meta.dirname, '../../../test-artifacts/screenshots');

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set CHROMIUM_PATH).`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function newUserContext(browser: Browser, origin: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: origin, viewport: { width: 1280, height: 820 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  return context;
}

/**
 * Signs in the way a user does: the app's "Sign in" link → the API's /api/auth/login → the local
 * sign-in page (OAuth authorize) → the callback that sets the cookies → back to the app. With
 * `viaForm` the name is typed into the page's form; otherwise `login_hint` fills it.
 */
export async function signIn(page: Page, name: string, options: { viaForm?: boolean; screenshotPrefix?: string } = {}): Promise<void> {
  await page.goto('/');
  const link = page.getByRole('link', { name: 'Sign in to continue' });
  await link.waitFor();
  if (options.screenshotPrefix) await shot(page, `${options.screenshotPrefix}-sign-in`);
  if (options.viaForm) {
    await link.click();
    await page.locator('input[name=username]').waitFor();
    if (options.screenshotPrefix) await shot(page, `${options.screenshotPrefix}-local-sign-in`);
    await page.locator('input[name=username]').fill(name);
    await page.locator('button[type=submit]').click();
  } else {
    // Follow /api/auth/login by hand to add login_hint to the authorize URL it redirects to.
    const href = await link.getAttribute('href');
    const res = await page.request.get(href!, { maxRedirects: 0 });
    const authorize = new URL(res.headers().location!, page.url());
    authorize.searchParams.set('login_hint', name);
    await page.goto(authorize.toString());
  }
  await page.getByTestId('current-user').filter({ hasText: name }).waitFor();
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** The editor's text, one line per block, without collaborators' caret labels. */
export function editorText(page: Page): Promise<string> {
  return page.getByTestId('editor').evaluate((root) => {
    const clone = root.cloneNode(true) as HTMLElement;
    clone.querySelectorAll('.collaboration-carets__caret').forEach((c) => c.remove());
    return [...clone.children].map((block) => block.textContent ?? '').join('\n');
  });
}

export async function waitForStatus(page: Page, label: string | RegExp, timeout = 30_000): Promise<void> {
  await page.getByTestId('sync-status-label').filter({ hasText: label }).waitFor({ timeout });
}

/** Pastes like a user would: a ClipboardEvent carrying the given data, handled by the editor. */
export async function paste(page: Page, data: { text?: string; html?: string }): Promise<void> {
  await page.getByTestId('editor').evaluate((el, d) => {
    const dt = new DataTransfer();
    if (d.html !== undefined) dt.setData('text/html', d.html);
    if (d.text !== undefined) dt.setData('text/plain', d.text);
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, data);
}
