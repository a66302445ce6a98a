// Screenshots for docs/integrations.md from the real UI, written to media/screenshots/ only when
// TOKENRELAY_SCREENSHOTS=1 (so CI runs never rewrite committed images), and only by the run on
// the newest VS Code (README shows today's VS Code; the 1.100.3 run of the same scenarios must not
// overwrite them).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { NEWEST_CODE_SERVER } from '../../../scripts/setup-code-server.mjs';
import { repoRoot } from './paths.ts';
import { target } from './target.ts';

export const screenshotsEnabled = process.env.TOKENRELAY_SCREENSHOTS === '1' && target.codeServer === NEWEST_CODE_SERVER;
export const screenshotsDir = join(repoRoot, 'media', 'screenshots');

interface Box { x: number; y: number; width: number; height: number }

function union(boxes: Box[]): Box {
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  const right = Math.max(...boxes.map((b) => b.x + b.width));
  const bottom = Math.max(...boxes.map((b) => b.y + b.height));
  return { x, y, width: right - x, height: bottom - y };
}

type Pad = number | { left: number; top: number; right: number; bottom: number };

/**
 * Saves media/screenshots/<name>.png: the whole page, or the union of `around`'s boxes padded by
 * `pad` px and clamped to the viewport. Never throws (a README image must not fail a test).
 */
export async function readmeShot(page: Page, name: string, around: Locator[] = [], pad: Pad = 16): Promise<void> {
  const p = typeof pad === 'number' ? { left: pad, top: pad, right: pad, bottom: pad } : pad;
  if (!screenshotsEnabled) return;
  try {
    mkdirSync(screenshotsDir, { recursive: true });
    const path = join(screenshotsDir, `${name}.png`);
    let clip: Box | undefined;
    if (around.length) {
      const boxes = (await Promise.all(around.map((l) => l.first().boundingBox()))).filter((b): b is Box => !!b);
      const view = page.viewportSize() ?? { width: 1400, height: 900 };
      if (boxes.length) {
        const u = union(boxes);
        const x = Math.max(0, u.x - p.left);
        const y = Math.max(0, u.y - p.top);
        clip = { x, y, width: Math.min(view.width, u.x + u.width + p.right) - x, height: Math.min(view.height, u.y + u.height + p.bottom) - y };
      }
    }
    await page.screenshot({ path, clip, caret: 'hide' });
    console.error(`README screenshot saved: ${path}`);
  } catch (err) {
    console.error(`README screenshot ${name} failed: ${(err as Error).message}`);
  }
}
