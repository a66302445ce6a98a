// Failure artifacts in <repo>/test-results/ (git-ignored): screenshots and code-server logs.
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { resultsDir } from './paths.ts';

const safe = (name: string) => name.replace(/[^\w.-]+/g, '_');

/** Saves test-results/<name>.png; never throws (it runs while a test is already failing). */
export async function screenshotOnFailure(page: Page | undefined, name: string): Promise<string | undefined> {
  if (!page || page.isClosed()) return undefined;
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${safe(name)}.png`);
  try {
    await page.screenshot({ path: file, timeout: 10_000 });
    console.error(`screenshot saved: ${file}`);
    return file;
  } catch (err) {
    console.error(`screenshot failed: ${(err as Error).message}`);
    return undefined;
  }
}

/** Copies a log (e.g. CodeServer.logFile, deleted by stop()) to test-results/<name>.log. */
export function saveLog(logFile: string | undefined, name: string): string | undefined {
  if (!logFile) return undefined;
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${safe(name)}.log`);
  try {
    copyFileSync(logFile, file);
    console.error(`log saved: ${file}`);
    return file;
  } catch {
    return undefined;
  }
}

/** Copies a directory (e.g. <user-data-dir>/logs with the extension hosts' logs) to test-results/<name>/. */
export function saveDir(dir: string | undefined, name: string): string | undefined {
  if (!dir) return undefined;
  const target = join(resultsDir, safe(name));
  try {
    cpSync(dir, target, { recursive: true });
    console.error(`logs saved: ${target}`);
    return target;
  } catch {
    return undefined;
  }
}

/** Writes text (e.g. collected IdP log lines) to test-results/<name>. */
export function saveText(text: string, name: string): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, safe(name));
  writeFileSync(file, text);
  console.error(`log saved: ${file}`);
  return file;
}
