// A refresh's secret-store write is off its callers' path, and store writes land in order.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/core/broker.ts';
import { parseCredentials } from '../../src/core/credentials.ts';
import { ensureSocketDir } from '../../src/ipc/socketDir.ts';
import type { RefreshClient, TokenSet } from '../../src/core/types.ts';
import { SnapshotStore } from '../harness/stores.ts';

const temp = (name: string) => mkdtempSync(join(tmpdir(), `tokenrelay-${name}-`));
let issued = 0;
const tokens = (): TokenSet => {
  const n = ++issued;
  return { accessToken: `access-${n}-${'x'.repeat(40)}`, refreshToken: `refresh-${n}-${'y'.repeat(40)}`, tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now() };
};
const client: RefreshClient = { refresh: async () => tokens(), revoke: async () => undefined };

/** A secret store whose writes can be held back, like VS Code's when its main process is busy. */
function gatedStore() {
  const store = new SnapshotStore(join(temp('store'), 'view.json'));
  const write = store.store.bind(store);
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  store.store = async (key, value) => { await gate; return write(key, value); };
  return {
    store,
    hold: () => { gate = new Promise<void>((resolve) => { open = resolve; }); },
    release: () => open(),
    savedGen: async () => parseCredentials((await store.get('k'))!).gen,
  };
}

test('a refresh hands out its token before secret storage has saved it; held writes land in order', { timeout: 10_000 }, async () => {
  const secrets = gatedStore();
  const broker = await Broker.create({
    slotDir: temp('slot'), socketDir: await ensureSocketDir(temp('sock')), secretKey: 'k', store: secrets.store, client, proactive: false,
  });
  after(() => broker.dispose());
  await broker.signIn(tokens(), { id: 'u1', label: 'User One' });
  assert.equal(await secrets.savedGen(), 1);

  secrets.hold();
  const two = await broker.getToken({ rejectedAccessToken: broker.peek()!.tokens.accessToken });
  assert.equal(two.generation, 2, 'the caller got generation 2 while its write is held');
  const three = await broker.getToken({ rejectedAccessToken: two.accessToken });
  assert.equal(three.generation, 3);
  assert.equal(await secrets.savedGen(), 1, 'nothing has landed yet');

  secrets.release();
  await broker.dispose(); // waits for queued writes, as deactivation does
  assert.equal(await secrets.savedGen(), 3, 'the newest generation is what stays stored');
});

test('deactivation does not hang on a secret store that never answers', { timeout: 10_000 }, async () => {
  const secrets = gatedStore();
  const broker = await Broker.create({
    slotDir: temp('slot'), socketDir: await ensureSocketDir(temp('sock')), secretKey: 'k', store: secrets.store, client, proactive: false,
  });
  await broker.signIn(tokens(), { id: 'u1', label: 'User One' });
  secrets.hold(); // never released
  const two = await broker.getToken({ rejectedAccessToken: broker.peek()!.tokens.accessToken });
  assert.equal(two.generation, 2);
  await broker.dispose(); // gives the write a bounded wait, then goes on shutting down
  assert.equal(await secrets.savedGen(), 1);
});
