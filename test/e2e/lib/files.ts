// Polling for result files: tests read what the probe or a terminal command wrote.
import { readFileSync } from 'node:fs';

/** Resolves with the file's content once it exists and is non-empty. */
export async function waitForFile(path: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const text = readFileSync(path, 'utf8');
      if (text.length > 0) return text;
    } catch { /* not there yet */ }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
