// Import first in every test of the VS Code surface: makes `require('vscode')` (what the
// extension's modules compile to) resolve to the fake in ./fake/vscode.ts.
import Module from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const fakePath = join(dirname(fileURLToPath(import.meta.url)), 'fake', 'vscode.ts');
const loader = Module as unknown as { _resolveFilename(request: string, ...rest: unknown[]): string };
const original = loader._resolveFilename;
if (!(original as { tokenrelayFake?: boolean }).tokenrelayFake) {
  const patched = function (this: unknown, request: string, ...rest: unknown[]): string {
    if (request === 'vscode') return fakePath;
    return original.call(this, request, ...rest);
  };
  (patched as { tokenrelayFake?: boolean }).tokenrelayFake = true;
  loader._resolveFilename = patched;
}
