// The peer socket's `adopt` route (issue 17 §3b): a live process takes a generation an exiting one
// hands over only when it authenticates under the slot's K as an active generation newer than any
// it holds. A record sealed under another key, one of another slot, an old generation or bytes
// that are no record are refused, and the process goes on serving what it had.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Broker } from '../../src/core/broker.ts';
import { silentLogger } from '../../src/core/redact.ts';
import { newSealKey, sealKeyOf, type SealKey } from '../../src/core/seal.ts';
import { SealedStore, type ActiveGeneration } from '../../src/core/sealedStore.ts';
import type { RefreshClient, TokenSet } from '../../src/core/types.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';
import { memoryStore } from '../harness/stores.ts';

const root = mkdtempSync(join(tmpdir(), 'tokenrelay-adopt-'));
const sockets = mkdtempSync('/tmp/tra-'); // short: the socket path must fit sun_path
const open: Broker[] = [];
after(async () => {
  for (const b of open.splice(0)) await b.dispose();
  for (const d of [root, sockets]) rmSync(d, { recursive: true, force: true });
});

let issued = 0;
const tokens = (): TokenSet => {
  const n = ++issued;
  return { accessToken: `access-${n}-${'x'.repeat(40)}`, refreshToken: `refresh-${n}-${'y'.repeat(40)}`, tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now() };
};
const origin = { tokenEndpoint: 'https://idp.test/token', issuer: 'https://idp.test', clientId: 'tokenrelay' };
const client: RefreshClient = { origin: async () => origin, refresh: async () => tokens(), revoke: async () => undefined };

test('a handed-over record is adopted only when it authenticates under the slot\'s K as a newer active generation', async () => {
  const slotDir = join(root, 'slot-a');
  const socketDir = join(sockets, 'private');
  const secrets = memoryStore();
  const receiver = await Broker.create({ slotDir, secretKey: 'tokenrelay/v1/slot-a', store: secrets, client, proactive: false, siblings: new UnixSiblingChannel(socketDir, silentLogger) });
  open.push(receiver);
  const signedIn = tokens();
  await receiver.signIn(signedIn, { id: 'u', label: 'U' }, origin);
  const k = sealKeyOf(Buffer.from((JSON.parse((await secrets.get('tokenrelay/v1/slot-a/seal-key'))!) as { key: string }).key, 'base64'))!;

  const sender = new UnixSiblingChannel(socketDir, silentLogger);
  const store = SealedStore.open(slotDir, 'slot-a');
  const generation = (gen: number, t: TokenSet): ActiveGeneration => ({ gen, state: 'active', account: { id: 'u', label: 'U' }, tokens: t, origin, writer: { pid: 1, id: 'gone' }, at: Date.now() });
  const handOver = (g: ActiveGeneration, key: SealKey, into = store) => sender.handOver(store.peersDir, into.seal(g, key));

  const refused = {
    'sealed under another key': await handOver(generation(2, tokens()), newSealKey()),
    'sealed for another slot': await handOver(generation(2, tokens()), k, SealedStore.open(join(root, 'slot-b'), 'slot-b')),
    'not newer than the held generation': await handOver(generation(1, tokens()), k),
    'not a record': await sender.handOver(store.peersDir, '{"gen":2,"v":2}'),
  };
  for (const [what, taker] of Object.entries(refused)) assert.equal(taker, undefined, what);
  assert.equal((await receiver.getToken()).accessToken, signedIn.accessToken, 'still serving its own generation');

  const next = tokens();
  assert.equal(await handOver(generation(2, next), k), process.pid, 'a record sealed under K is adopted');
  const served = await receiver.getToken();
  assert.deepEqual([served.accessToken, served.generation], [next.accessToken, 2]);
  assert.equal(store.latestGen(), 2, 'and written, the disk allowing');
});
