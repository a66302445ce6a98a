// A token's fingerprint in a log line must say it is one: "refresh token 55WvLB8MMnF4dPlAugS9I5"
// reads like a token. Checked on the sources: every log call in src/ that prints fingerprint(…),
// directly or through a variable, names it "fingerprint" before the value.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const src = fileURLToPath(new URL('../../src', import.meta.url));
const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: `src/${f}`, text: readFileSync(join(src, f), 'utf8') }));
const LOG_CALL = /\b(log|logger|this\.log|ctx\.log)\.(trace|debug|info|warn|error)\(/;

test('every log line with a token fingerprint says "fingerprint"', () => {
  let checked = 0;
  for (const { file, text } of files) {
    if (file === 'src/core/fingerprint.ts') continue;
    // fingerprint(…) itself, and variables holding one.
    const holders = [...text.matchAll(/\b(?:const|let)\s+(\w+)\s*=\s*fingerprint\(/g)].map((m) => m[1]);
    const values = [/\$\{fingerprint\(/, ...holders.map((h) => new RegExp(`\\$\\{${h}\\}`))];
    text.split('\n').forEach((line, i) => {
      if (!LOG_CALL.test(line)) return;
      for (const value of values) {
        const at = line.search(value);
        if (at < 0) continue;
        checked++;
        assert.match(line.slice(0, at), /fingerprint\s*$/, `${file}:${i + 1} prints a fingerprint without saying so:\n${line.trim()}`);
      }
    });
  }
  assert.ok(checked >= 3, `the refresh lines were found (${checked})`);
});

test('the check catches an unlabelled one', () => {
  const line = "    ctx.log.info(`Refreshing generation ${g.gen} (refresh token ${fingerprint(refreshToken)})`);";
  const at = line.search(/\$\{fingerprint\(/);
  assert.ok(LOG_CALL.test(line));
  assert.doesNotMatch(line.slice(0, at), /fingerprint\s*$/);
});
