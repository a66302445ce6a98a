// The test worlds remove their temp directories also when something fails on the way: a world that
// could not be made, a window that will not close. (`npm test` must leave nothing in $TMPDIR.)
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { World } from './fixture.ts';
import type { Idp } from '../idp/server.ts';
import type { WindowProcess } from './windowProcess.ts';

let privateTmp: string;
const savedTmp = process.env.TMPDIR;
beforeEach(() => {
  privateTmp = mkdtempSync(join(tmpdir(), 'tokenrelay-cleanup-'));
  process.env.TMPDIR = privateTmp; // os.tmpdir() follows it: the worlds below are made in here
});
afterEach(() => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  rmSync(privateTmp, { recursive: true, force: true });
});

test('a world whose set-up fails removes its directory', async () => {
  const idp = { setAccessTokenTtl() { throw new Error('set-up failed'); }, close: async () => undefined } as unknown as Idp;
  await assert.rejects(World.create({ storeModel: 'shared-lag', idp, ttl: 5 }), /set-up failed/);
  assert.deepEqual(readdirSync(privateTmp), []);
});

test('a window that fails to close does not keep the world\'s directory', async () => {
  const idp = { close: async () => undefined } as unknown as Idp;
  const world = await World.create({ storeModel: 'shared-lag', idp });
  assert.match(readdirSync(privateTmp).join(), /^tokenrelay-world-/);
  world.windows.push({ close: async () => { throw new Error('stuck window'); } } as unknown as WindowProcess);
  await assert.rejects(world.close(), /stuck window/, 'the failure is still reported');
  assert.deepEqual(readdirSync(privateTmp), []);
});

test('the VS Code test world removes its directory when a window fails to close', async () => {
  const { World: VscodeWorld } = await import('../vscode/helpers.ts');
  const world = new VscodeWorld();
  world.windows.push({ dispose: async () => { throw new Error('stuck window'); } } as never);
  await assert.rejects(world.close(), /stuck window/);
  assert.deepEqual(readdirSync(privateTmp), []);
});
