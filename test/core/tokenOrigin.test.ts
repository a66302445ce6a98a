// The core, not the OAuth client, keeps a refresh token to its origin: with a client that would
// send anywhere it is told, a generation is presented only to the origin its sealed record names,
// a configuration naming another is refused before anything is sent (the claim given back, the
// token unspent), and a record without an origin takes the configuration's once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Broker } from '../../src/core/broker.ts';
import { TokenRelayError, TransientError } from '../../src/core/errors.ts';
import type { RefreshClient, TokenOrigin, TokenSet } from '../../src/core/types.ts';
import { memoryStore } from '../harness/stores.ts';

const root = mkdtempSync(join(tmpdir(), 'tokenrelay-origin-core-'));
const open: Broker[] = [];
after(async () => {
  for (const b of open.splice(0)) await b.dispose();
  rmSync(root, { recursive: true, force: true });
});

const A: TokenOrigin = { tokenEndpoint: 'https://idp.test/token', issuer: 'https://idp.test', clientId: 'tokenrelay' };
const B: TokenOrigin = { ...A, tokenEndpoint: 'https://elsewhere.test/token' };

let issued = 0;
const tokens = (): TokenSet => {
  const n = ++issued;
  return { accessToken: `access-${n}-${'x'.repeat(40)}`, refreshToken: `refresh-${n}-${'y'.repeat(40)}`, tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now() };
};

/** A client that presents wherever it is told, and says the configuration names `configured`. */
function world(slot: string) {
  const sent: TokenOrigin[] = [];
  const state: { configured: TokenOrigin | (() => never) } = { configured: A };
  const client: RefreshClient = {
    origin: async () => (typeof state.configured === 'function' ? state.configured() : state.configured),
    refresh: async (_rt, _signal, to) => { sent.push(to); return tokens(); },
    revoke: async () => undefined,
  };
  const store = memoryStore(); // one secret storage, as windows of one VS Code share it
  const broker = async () => {
    const b = await Broker.create({ slotDir: join(root, slot), secretKey: `tokenrelay/v1/${slot}`, store, client, proactive: false });
    open.push(b);
    return b;
  };
  return { sent, state, broker };
}

const refreshNow = (b: Broker) => b.getToken({ rejectedAccessToken: b.peek()!.tokens.accessToken, force: true });

test('presented only where the record says; another configured origin is refused before sending, the claim given back', async () => {
  const w = world('a');
  const b = await w.broker();
  await b.signIn(tokens(), { id: 'u', label: 'U' }, A);
  await refreshNow(b);
  assert.deepEqual(w.sent, [A]);

  w.state.configured = B;
  await assert.rejects(refreshNow(b), (err: unknown) => {
    assert.ok(err instanceof TokenRelayError && err.code === 'config', String(err));
    assert.match(err.message, /issued by https:\/\/idp\.test\/token to client tokenrelay .* now names token endpoint https:\/\/elsewhere\.test\/token; .*Sign in again with the new configuration/);
    return true;
  });
  assert.deepEqual(w.sent, [A], 'nothing was presented to the other origin');
  assert.equal(b.status().state, 'error', 'the session is kept, named as a setting problem (not needs-sign-in)');

  // The user puts the setting back: the token was never spent, and another process presents it at its origin.
  w.state.configured = A;
  b.liftRefusal();
  const other = await w.broker();
  await refreshNow(other);
  assert.deepEqual(w.sent, [A, A]);
});

test('a record without an origin (an earlier version\'s) takes the configuration once; its successor is pinned', async () => {
  const w = world('b');
  const b = await w.broker();
  await b.signIn(tokens(), { id: 'u', label: 'U' }); // as the previous version sealed it
  await refreshNow(b);
  assert.deepEqual(w.sent, [A]);
  w.state.configured = B;
  await assert.rejects(refreshNow(b), /Sign in again with the new configuration/);
  assert.deepEqual(w.sent, [A]);
  // A new sign-in with the new configuration is the fix: it records the new origin.
  await b.signIn(tokens(), { id: 'u', label: 'U' }, B);
  await refreshNow(b);
  assert.deepEqual(w.sent, [A, B]);
});

test('a discovery that fails while finding the configured origin leaves the token unspent (offline, not needs-sign-in)', async () => {
  const w = world('c');
  const b = await w.broker();
  await b.signIn(tokens(), { id: 'u', label: 'U' }, A);
  w.state.configured = () => { throw new TransientError('connection reset', true); };
  await assert.rejects(refreshNow(b), (err: unknown) => err instanceof TransientError);
  assert.equal(b.status().state, 'offline');
  assert.deepEqual(w.sent, []);
});
