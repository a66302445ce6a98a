// The layers as CONTRIBUTING.md "Repository map" describes them, checked on the sources: src/app is vscode-free,
// and only src/app reaches a Broker, so no consumer can get a token around AccountService's checks.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const src = fileURLToPath(new URL('../../src', import.meta.url));
const sources = (dir: string) => readdirSync(join(src, dir), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts')).map((f) => ({ file: `src/${dir}/${f}`, text: readFileSync(join(src, dir, f), 'utf8') }));
const imports = (text: string) => [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);

describe('layers', () => {
  test('src/core imports nothing from vscode, ipc, app or the adapters: its ports are interfaces in core', () => {
    for (const { file, text } of sources('core')) {
      for (const m of imports(text)) {
        assert.ok(m !== 'vscode' && !/\/(ipc|app|vscode|cli)\//.test(m), `${file} imports ${m}`);
      }
    }
  });

  test('src/app imports nothing from vscode, the VS Code adapters or the CLI', () => {
    for (const { file, text } of sources('app')) {
      for (const m of imports(text)) {
        assert.ok(m !== 'vscode' && !/\/(vscode|cli)\//.test(m), `${file} imports ${m}`);
      }
    }
  });

  test('outside src/app and src/core nothing touches a Broker or the registry\'s entries', () => {
    for (const dir of ['vscode', 'ipc', 'cli', 'agent']) {
      for (const { file, text } of sources(dir)) {
        assert.doesNotMatch(text, /\.broker\b/, `${file} reaches into a broker`);
        assert.ok(!imports(text).some((m) => m.endsWith('/core/broker.ts')), `${file} imports the broker`);
        // Constructing the registry (the extension's wiring) is allowed; using it is not.
        assert.doesNotMatch(text, /AccountEntry|registry\.\w+\(/, `${file} uses the registry instead of AccountService`);
      }
    }
  });
});
