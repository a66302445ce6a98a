// Drives the Token Relay surface of the workbench: status bar item, Accounts menu sign-in,
// the IdP pages in the popup the extension opens, and terminal commands whose results land in files.
import { sleep } from '../../support/wait.ts';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { runCommand, runInTerminal } from './workbench.ts';
import { storeHomeOf } from './code-server.ts';

export const STATUS_ITEM = '[id="tokenrelay.tokenrelay.status"]';
export const SIGNED_OUT_TEXT = /Token Relay: Sign in$/;
export const SIGN_IN_AGAIN_TEXT = /Token Relay: Sign in again/;


/** The status bar item's visible text ('' while absent). */
export async function statusText(page: Page): Promise<string> {
  const item = page.locator(STATUS_ITEM);
  if ((await item.count()) === 0) return '';
  return ((await item.first().innerText({ timeout: 2_000 }).catch(() => '')) ?? '').replace(/\s+/g, ' ').trim();
}

/** Polls until the status bar text matches; the error names the last text seen. */
export async function waitForStatus(page: Page, expected: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = await statusText(page);
    if (expected.test(last)) return last;
    if (Date.now() > deadline) {
      const tooltip = await statusTooltip(page, 5_000).catch(() => '(no tooltip)');
      throw new Error(`status bar item ${STATUS_ITEM} did not match ${expected} within ${timeoutMs} ms; `
        + `last text: ${JSON.stringify(last)}; tooltip: ${JSON.stringify(tooltip)}`);
    }
    await sleep(200);
  }
}

/** Hovers the status bar item and returns the hover's text (account, issuer, expiry, who refreshed). */
export async function statusTooltip(page: Page, timeoutMs = 10_000): Promise<string> {
  const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: /\S/ }).last();
  await page.bringToFront(); // hovers need a foreground tab (timers are throttled in background tabs)
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.mouse.move(5, 5);
    await page.locator(STATUS_ITEM).hover();
    try {
      await hover.waitFor({ state: 'visible', timeout: 3_000 });
      return (await hover.innerText()).trim();
    } catch (err) {
      if (Date.now() > deadline) throw new Error('status bar tooltip did not show', { cause: err });
    }
  }
}

const ACCOUNTS = '.activitybar .action-item:has(.codicon-accounts-view-bar-icon)';

/**
 * Opens the Accounts menu (retrying until the tokenrelay sign-in entry is listed) and returns its item.
 * Entries are matched by their text only: 1.139 lists more of them (Copilot sign-in, "Manage
 * Language Model Access…"), so positions and counts differ between versions.
 */
export async function openAccountsMenu(page: Page, item: RegExp = /Sign in with Token Relay/, timeoutMs = 30_000) {
  const entry = page.getByRole('menuitem', { name: item });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.locator(ACCOUNTS).click();
    try {
      await entry.waitFor({ state: 'visible', timeout: 3_000 });
      return entry;
    } catch (err) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(`Accounts menu has no entry ${item} after ${timeoutMs} ms`, { cause: err });
      await sleep(500);
    }
  }
}

/** Completes the IdP's devInteractions login + consent pages in `popup`. */
export async function completeIdpLogin(popup: Page, login: string, timeoutMs = 30_000): Promise<void> {
  await popup.waitForLoadState('domcontentloaded', { timeout: timeoutMs });
  const loginBox = popup.locator('input[name=login]');
  await loginBox.waitFor({ state: 'visible', timeout: timeoutMs });
  await loginBox.fill(login);
  await popup.locator('input[name=password]').fill('any-password');
  await popup.locator('button[type=submit]').click();
  // Consent: a form whose prompt is "consent".
  const consent = popup.locator('form:has(input[name=prompt][value=consent]) button[type=submit]');
  await consent.waitFor({ state: 'visible', timeout: timeoutMs });
  await consent.click();
}

/**
 * The user side of the device flow in a real page: `/device?user_code=…` (auto-submitted) →
 * confirm → login (skipped when the browser already has an IdP session) → consent → success.
 */
export async function approveDeviceInBrowser(device: Page, issuer: string, userCode: string, login: string, timeoutMs = 30_000): Promise<string> {
  if (!/\/device/.test(device.url())) await device.goto(`${issuer}/device?user_code=${encodeURIComponent(userCode)}`);
  const confirm = device.locator('button[form="op.deviceConfirmForm"]');
  await confirm.waitFor({ state: 'visible', timeout: timeoutMs });
  const shownCode = await device.innerText('body');
  await confirm.click();
  const loginBox = device.locator('input[name=login]');
  const consent = device.locator('form:has(input[name=prompt][value=consent]) button[type=submit]');
  const success = device.locator('#device-success');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await success.isVisible()) return shownCode;
    if (await loginBox.isVisible()) {
      await loginBox.fill(login);
      await device.locator('input[name=password]').fill('any-password');
      await device.locator('button[type=submit]').click();
    } else if (await consent.isVisible()) {
      await consent.click();
    } else if (await device.locator('#error').isVisible()) {
      throw new Error(`IdP device page error: ${await device.locator('#error').innerText()}`);
    }
    if (Date.now() > deadline) throw new Error(`device approval did not finish; page: ${(await device.innerText('body')).slice(0, 300)}`);
    await sleep(200);
  }
}

/**
 * Clicks `trigger` (something that makes the extension call openExternal with the IdP URL),
 * catches the new browser page and completes login + consent. Returns the page (left on the
 * extension's loopback "Signed in" page).
 */
export async function signInThroughPopup(page: Page, trigger: () => Promise<void>, login: string, timeoutMs = 45_000): Promise<Page> {
  const popup = await openedExternally(page, trigger, timeoutMs);
  await completeIdpLogin(popup, login, timeoutMs);
  await popup.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/, { timeout: timeoutMs });
  await popup.getByText(/Signed in/i).first().waitFor({ timeout: timeoutMs });
  return popup;
}

/**
 * Runs `trigger` (something that makes the extension call openExternal) and returns the browser
 * page that opens. VS Code 1.100 first asks "Do you want code-server to open the external
 * website?" for any site that is not a trusted domain (the IdP is not); 1.139 opens localhost,
 * 127.0.0.1 and [::1] pages without asking. So the dialog is raced against the page: its Open
 * button is clicked only if it shows before the page opens, and nothing waits for a dialog that
 * never comes.
 */
export async function openedExternally(page: Page, trigger: () => Promise<void>, timeoutMs = 30_000): Promise<Page> {
  let popup: Page | undefined;
  const onPage = (p: Page) => { popup ??= p; };
  page.context().on('page', onPage);
  try {
    await trigger();
    const open = page.locator('.monaco-dialog-box').getByRole('button', { name: 'Open', exact: true });
    const deadline = Date.now() + timeoutMs;
    while (!popup) {
      if (await open.isVisible().catch(() => false)) await open.click().catch(() => {});
      if (Date.now() > deadline) throw new Error(`no browser page opened within ${timeoutMs} ms`);
      await sleep(200);
    }
    await popup.waitForURL((url) => url.href !== 'about:blank', { timeout: timeoutMs, waitUntil: 'domcontentloaded' });
    return popup;
  } finally {
    page.context().off('page', onPage);
  }
}

/** Clicks a context-menu item and makes sure the menu took it (a click during the open animation can be lost). */
export async function clickMenuItem(item: Locator): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    await item.click();
    try {
      await item.waitFor({ state: 'hidden', timeout: 2_000 });
      return;
    } catch { /* still open: click again */ }
  }
  throw new Error('the menu item did not react to clicks');
}

export interface ShellResult { stdout: string; stderr: string; code: number }

let seq = 0;

/**
 * Runs `command` in the page's integrated terminal with stdout/stderr/exit code redirected to files
 * in `dir`, and waits for the exit code file. Typed as one line, so `command` must be one line.
 */
export async function shell(page: Page, dir: string, command: string, timeoutMs = 30_000): Promise<ShellResult> {
  const base = join(dir, `cmd-${process.pid}-${++seq}`);
  // The exit code is written last (tmp + mv) so its presence means stdout/stderr are complete.
  // A child bash runs the command: VS Code's shell integration (a DEBUG trap in the terminal's
  // shell) would print its escape sequences into a redirected `{ …; }` group; children don't inherit it.
  const quoted = `'${command.replace(/'/g, `'\\''`)}'`;
  await runInTerminal(page, `bash -c ${quoted} > ${base}.out 2> ${base}.err; echo $? > ${base}.rc.tmp; mv ${base}.rc.tmp ${base}.rc`);
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(`${base}.rc`)) {
    if (Date.now() > deadline) throw new Error(`terminal command did not finish within ${timeoutMs} ms: ${command}`);
    await sleep(100);
  }
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  return { stdout: read(`${base}.out`), stderr: read(`${base}.err`), code: Number(read(`${base}.rc`).trim()) };
}

/** Every path under `root` whose name matches, at any depth (directories that match are walked too). */
function findNamed(root: string, matches: (name: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try { names = readdirSync(dir); } catch { return; }
    for (const name of names) {
      const path = join(dir, name);
      if (matches(name)) found.push(path);
      let isDir = false;
      try { isDir = statSync(path).isDirectory(); } catch { /* gone */ }
      if (isDir) walk(path);
    }
  };
  walk(root);
  return found;
}

/** Every `refresh.lock` directory or file under `root` (proper-lockfile's lock for a slot). */
export function findLocks(root: string): string[] {
  return findNamed(root, (name) => name.startsWith('refresh.lock'));
}

/** Slot directories of a test code-server's Token Relay store (TOKENRELAY_HOME beside its user data). */
export function slotDirs(userDataDir: string): string[] {
  const slots = join(storeHomeOf(userDataDir), 'slots');
  try {
    return readdirSync(slots).map((n) => join(slots, n)).filter((p) => statSync(p).isDirectory());
  } catch {
    return [];
  }
}

/** The newest generation sealed in any slot. */
export function latestGeneration(userDataDir: string): number {
  const gens = slotDirs(userDataDir).flatMap((dir) => readdirSync(dir))
    .map((name) => /^g-(\d+)\.sealed$/.exec(name)?.[1]).filter((g): g is string => g !== undefined).map(Number);
  return Math.max(0, ...gens);
}

/** Every window's "Token Relay" log lines (one file per extension host, at the host's log level). */
export function extensionLogLines(userDataDir: string): string[] {
  return findNamed(join(userDataDir, 'logs'), (name) => name === 'Token Relay.log')
    .flatMap((path) => readFileSync(path, 'utf8').split('\n'));
}

/**
 * Types a string setting into the Settings editor (User scope), as a user does: fills the text box
 * of the setting titled `label`, searching for its key first when the editor does not show it, and
 * leaves the field. Opens the editor if needed. A search re-renders the list and drops an edit in
 * progress, so nothing is typed until the search has been applied.
 */
export async function typeSetting(page: Page, key: string, label: string, value: string): Promise<void> {
  const editor = page.locator('.settings-editor');
  if (!(await editor.isVisible().catch(() => false))) await runCommand(page, 'Preferences: Open User Settings');
  await editor.waitFor({ state: 'visible', timeout: 20_000 });
  // The row of this setting (its title without the category).
  const row = editor.locator('.setting-item-contents').filter({ has: page.locator('.setting-item-label', { hasText: new RegExp(`^${label}$`) }) });
  const input = row.locator('.setting-item-control input.input').first();
  // The editor opens with a query (from a link: "@ext:…") that it applies after the first render.
  const applied = editor.locator('.settings-count-widget').filter({ hasText: /Settings? Found/ });
  await applied.waitFor({ timeout: 10_000 });
  if (!(await input.isVisible().catch(() => false))) {
    await editor.locator('.settings-header .suggest-input-container').first().click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(key);
    await editor.locator('.settings-count-widget').filter({ hasText: /^1 Setting Found$/ }).or(row).first().waitFor({ timeout: 10_000 });
  }
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(value);
  await input.press('Tab');
}
