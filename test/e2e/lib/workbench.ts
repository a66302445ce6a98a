// Drives the VS Code workbench UI (selectors verified on VS Code 1.100.3 and 1.139.1, code-server 4.100.3 and 4.139.1).
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

const TERMINAL = '.terminal-wrapper .xterm';

/**
 * Gives the workbench keyboard focus. Clicks the editor part's top-left corner (its tab strip):
 * an editor's body can be a webview iframe (e.g. a Markdown preview) that swallows the click
 * and the keys.
 */
export async function focusWorkbench(page: Page): Promise<void> {
  // The main editor part: 1.139 shows the Settings editor as a modal, a second `.part.editor`.
  await page.locator('[id="workbench.parts.editor"]').click({ position: { x: 3, y: 3 } });
}

/** Closes a modal editor (1.139's Settings dialog) by its close button, if one is open. */
export async function closeModalEditor(page: Page): Promise<void> {
  const modal = page.locator('.modal-editor-part');
  for (let attempt = 0; attempt < 3 && (await modal.isVisible().catch(() => false)); attempt++) {
    await modal.locator('.action-label.codicon-close, [aria-label^="Close"]').first().click();
    await modal.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
  }
  await modal.waitFor({ state: 'hidden', timeout: 5_000 });
}

// Pages whose terminal has demonstrably run a command (see ensureShellResponds).
const responsive = new WeakSet<Page>();

/** Opens (or reuses) the panel terminal and types `command` + Enter. Read results via a file. */
export async function runInTerminal(page: Page, command: string): Promise<void> {
  const terminal = page.locator(TERMINAL).first();
  // Control+Backquote toggles: pressing it with the terminal already shown would hide it.
  if (!(await terminal.isVisible())) {
    await focusWorkbench(page); // keyboard shortcuts need workbench focus
    await page.keyboard.press('Control+Backquote');
    await terminal.waitFor({ state: 'visible', timeout: 30_000 });
  }
  // Also for a terminal that is already there: a new window restores the panel with a fresh
  // terminal, which VS Code may still relaunch once the extensions' environment arrives.
  if (!responsive.has(page)) {
    await ensureShellResponds(page);
    responsive.add(page);
    page.once('domcontentloaded', () => responsive.delete(page)); // a reload is a new window
  }
  await typeInTerminal(page, command);
}

async function typeInTerminal(page: Page, command: string): Promise<void> {
  const input = page.locator('.terminal-wrapper .xterm-helper-textarea').first();
  await input.focus();
  await page.keyboard.type(`${command}\n`);
}

let markers = 0;

/**
 * A new terminal can lose typed keys twice over: before the shell printed its first prompt, and
 * when VS Code relaunches a terminal because an extension changed the terminal environment
 * (terminal.integrated.environmentChangesRelaunch; the change arrives a second or more after
 * activation, and a relaunch already under way still eats input). So type a marker command until
 * the shell ran it AND the terminal still shows it a moment later (a relaunch clears the screen).
 */
async function ensureShellResponds(page: Page, timeoutMs = 40_000): Promise<void> {
  const rows = page.locator('.terminal-wrapper .xterm-rows').first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const marker = join(tmpdir(), `tokenrelay-term-ready-${process.pid}-${++markers}`);
    try {
      await waitForPrompt(page, Math.max(1_000, deadline - Date.now()));
      await typeInTerminal(page, `echo ok > ${marker}`);
      let ran = false;
      for (const until = Date.now() + 3_000; !ran && Date.now() < until;) {
        ran = existsSync(marker);
        if (!ran) await new Promise((r) => setTimeout(r, 100));
      }
      if (ran) {
        await new Promise((r) => setTimeout(r, 1_500));
        if ((await rows.innerText().catch(() => '')).includes(marker.slice(-12))) return;
        console.error('terminal: relaunched after the marker command; retrying');
      } else {
        console.error('terminal: marker command not run within 3 s; retrying');
        await page.keyboard.press('Control+C'); // drop a half-typed line
      }
    } finally {
      rmSync(marker, { force: true });
    }
    if (Date.now() > deadline) throw new Error(`the terminal did not settle within ${timeoutMs} ms`);
  }
}

/**
 * Keys typed before the shell printed its first prompt are lost (seen with a freshly opened
 * terminal in a new window), so wait for a prompt-like line. Needs the DOM renderer
 * (terminal.integrated.gpuAcceleration: off), which DEFAULT_SETTINGS sets.
 */
async function waitForPrompt(page: Page, timeoutMs = 20_000): Promise<void> {
  const rows = page.locator('.terminal-wrapper .xterm-rows').first();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await rows.innerText().catch(() => '');
    if (/[$#>]\s*$/.test(text.trimEnd())) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the terminal showed no shell prompt within ${timeoutMs} ms`);
}

/**
 * Runs a command by its palette title, e.g. "Token Relay Probe: Get Session".
 * Retries: a palette opened before the extension's contributions were registered never lists it.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000, opens: 'nothing' | 'a quick pick' = 'nothing'): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  const row = widget.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await focusWorkbench(page);
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
  // A command that shows its own quick pick (e.g. "MCP: List Servers") keeps the widget open.
  if (opens === 'nothing') return void await widget.waitFor({ state: 'hidden', timeout: 10_000 });
  const shown = Date.now() + 10_000;
  while ((await input.inputValue().catch(() => '>')).startsWith('>') || !(await widget.isVisible())) {
    if (Date.now() > shown) throw new Error(`"${title}" showed no quick pick within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
