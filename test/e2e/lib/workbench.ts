// Drives the VS Code workbench UI (selectors verified on VS Code 1.100.3 / code-server 4.100.3).
import type { Page } from 'playwright-core';

const TERMINAL = '.terminal-wrapper .xterm';

/** Opens (or reuses) the panel terminal and types `command` + Enter. Read results via a file. */
export async function runInTerminal(page: Page, command: string): Promise<void> {
  const terminal = page.locator(TERMINAL).first();
  // Control+Backquote toggles: pressing it with the terminal already shown would hide it.
  if (!(await terminal.isVisible())) {
    await page.locator('.part.editor').click(); // keyboard shortcuts need workbench focus
    await page.keyboard.press('Control+Backquote');
    await terminal.waitFor({ state: 'visible', timeout: 30_000 });
  }
  const input = page.locator('.terminal-wrapper .xterm-helper-textarea').first();
  await input.focus();
  await page.keyboard.type(`${command}\n`);
}

/**
 * Runs a command by its palette title, e.g. "Token Relay Probe: Get Session".
 * Retries: a palette opened before the extension's contributions were registered never lists it.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  const row = widget.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.locator('.part.editor').click();
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ state: 'visible', timeout: 3_000 });
      break;
    } catch (err) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(`command "${title}" not in the palette after ${timeoutMs} ms`, { cause: err });
    }
  }
  await row.click();
  await widget.waitFor({ state: 'hidden', timeout: 10_000 });
}
