// Debian's Chromium driven by playwright-core (Playwright's own browsers cannot be downloaded here).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM } from '../../../scripts/chromium.mjs';

/** Launches Debian's Chromium; a missing browser is an error (the suite must fail, not skip). */
export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    return Promise.reject(new Error(`${CHROMIUM} is missing: install Debian's chromium (bash scripts/ensure-system-packages.sh)`));
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The networking flags stop Chromium from flooding the closed network with requests.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// One shared context per browser, so tabs share localStorage (code-server keeps SecretStorage there)
// the way windows of one real browser do. Pass a context of your own for isolation.
const sharedContexts = new WeakMap<Browser, Promise<BrowserContext>>();

function contextOf(target: Browser | BrowserContext): Promise<BrowserContext> {
  if (!('newContext' in target)) return Promise.resolve(target);
  let ctx = sharedContexts.get(target);
  if (!ctx) {
    ctx = target.newContext({ viewport: { width: 1400, height: 900 } });
    sharedContexts.set(target, ctx);
  }
  return ctx;
}

/** Opens a new tab (= a new VS Code window with its own extension host) and waits for the workbench. */
export async function openWorkbench(target: Browser | BrowserContext, url: string, timeoutMs = 60_000): Promise<Page> {
  const page = await (await contextOf(target)).newPage();
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
  return page;
}
