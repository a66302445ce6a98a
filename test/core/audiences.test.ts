// Several audiences (RFC 8707 resource indicators) from one grant, on a clock the test moves: each
// audience's token is cached apart, every audience refresh rotates the one refresh token and carries
// the others forward, a 401 report replaces only its audience's token, records of earlier versions
// (no audiences map) still read, the map is sealed under K like the rest, and a refused resource
// leaves every access token served and the possibly spent refresh token unpresented.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResourceRefusedError, TokenRelayError } from '../../src/core/errors.ts';
import { SealedStore } from '../../src/core/sealedStore.ts';
import type { RefreshClient, TokenSet } from '../../src/core/types.ts';
import { brokerWindows } from './brokerWindows.ts';

let now = Date.now();
const clock = { now: () => now };
let issued = 0;
const tokens = (lifetimeMs = 600_000, audience = 'main'): TokenSet => {
  const n = ++issued;
  return { accessToken: `access-${audience}-${n}-${'x'.repeat(40)}`, refreshToken: `refresh-${n}-${'y'.repeat(40)}`, tokenType: 'Bearer', expiresAt: now + lifetimeMs, obtainedAt: now };
};
const API_A = 'https://api-a.test';
const API_B = 'https://api-b.test';
const REFUSED = 'https://refused.test';
/** Every refresh token presented, with the resource it was presented for. */
const presented: { rt: string; resource?: string }[] = [];
/** When set, refreshes wait for it: the refresher holds the lock and its spend claim meanwhile. */
let gate: Promise<void> | undefined;
const client: RefreshClient = {
  origin: async () => ({ tokenEndpoint: 'https://idp.test/token', issuer: 'https://idp.test', clientId: 'tokenrelay' }),
  refresh: async (rt, _signal, _to, _beforeSend, resource) => {
    presented.push({ rt, resource });
    await gate;
    if (resource === REFUSED) throw new ResourceRefusedError(resource, 'invalid_target', false);
    return tokens(600_000, resource ?? 'main');
  },
  revoke: async () => undefined,
};

const { root, window } = brokerWindows('tokenrelay-audiences-', { client, clock });

function assertNoReuse(): void {
  const rts = presented.map((p) => p.rt);
  assert.equal(new Set(rts).size, rts.length, 'no refresh token presented twice');
}

test('each audience is cached apart; an audience refresh rotates the grant and carries the others forward', async () => {
  const a = await window('slot-1');
  const b = await window('slot-1');
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  presented.length = 0;

  const forA = await a.getToken({ resource: API_A });
  assert.deepEqual(presented.map((p) => p.resource), [API_A], 'a missing audience refreshes with resource=A');
  assert.match(forA.accessToken, /^access-https:\/\/api-a\.test-/);
  assert.equal((await b.getToken({ resource: API_A })).accessToken, forA.accessToken, 'another process adopts A without refreshing');
  assert.equal((await b.getToken()).accessToken, signedIn.accessToken, 'the configured audience keeps its token');

  const forB = await b.getToken({ resource: API_B });
  assert.deepEqual(presented.map((p) => p.resource), [API_A, API_B]);
  assert.equal(forB.generation, forA.generation + 1, 'B refreshed on the generation A wrote');
  assert.equal((await a.getToken({ resource: API_A })).accessToken, forA.accessToken, 'A was carried into the generation B wrote');
  assert.equal((await a.getToken()).accessToken, signedIn.accessToken);
  assert.equal(presented.length, 2, 'nothing else presented');

  // Near expiry (inside the refresh margin), B is refreshed once more, on the newest generation.
  now += 590_000;
  const b2 = await a.getToken({ resource: API_B });
  assert.equal(presented.length, 2 + 1, 'one refresh for B');
  assert.notEqual(b2.accessToken, forB.accessToken);
  assertNoReuse();
});

test('an expired audience is dropped from the next generation, not carried', async () => {
  const a = await window('slot-2');
  await a.signIn(tokens(3_600_000), { id: 'u1', label: 'User One' });
  await a.getToken({ resource: API_A }); // 600 s
  now += 700_000; // A expired; the main token (1 h) is fresh
  presented.length = 0;
  await a.getToken({ resource: API_B });
  const store = SealedStore.open(join(root, 'slot-2'), 'slot-2');
  assert.equal(presented.length, 1);
  // A is asked for again: missing from the newest generation, it is refreshed (not served expired).
  await a.getToken({ resource: API_A });
  assert.deepEqual(presented.map((p) => p.resource), [API_B, API_A]);
  assert.ok(store.latestGen() >= 4);
  assertNoReuse();
});

test('a 401 report replaces only its audience\'s token', async () => {
  const a = await window('slot-3');
  const b = await window('slot-3');
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  const forA = await a.getToken({ resource: API_A });
  const forB = await a.getToken({ resource: API_B });
  presented.length = 0;
  const replaced = await b.getToken({ resource: API_A, rejectedAccessToken: forA.accessToken });
  assert.notEqual(replaced.accessToken, forA.accessToken);
  assert.deepEqual(presented.map((p) => p.resource), [API_A]);
  assert.equal((await a.getToken({ resource: API_B })).accessToken, forB.accessToken, 'B is untouched');
  assert.equal((await a.getToken()).accessToken, signedIn.accessToken, 'the configured audience is untouched');
  // A's rejected token reported to B's audience changes nothing there.
  assert.equal((await a.getToken({ resource: API_B, rejectedAccessToken: forA.accessToken })).accessToken, forB.accessToken);
  assert.equal((await a.getToken({ resource: API_A, rejectedAccessToken: forA.accessToken })).accessToken, replaced.accessToken, 'a report of the replaced token gets the current one');
  assert.equal(presented.length, 1);
});

test('a record without an audiences map (as earlier versions write it) serves the main token; a new audience refreshes on it', async () => {
  // A sign-in record has exactly the fields of an earlier version's: no audiences map.
  const dir = join(root, 'slot-4');
  const a = await window('slot-4');
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  const store = SealedStore.open(dir, 'slot-4');
  assert.equal(store.latestGen(), 1);
  const other = await window('slot-4');
  presented.length = 0;
  assert.equal((await other.getToken()).accessToken, signedIn.accessToken);
  assert.equal((await other.getToken({ resource: API_A, minValidityMs: 1 })).generation, 2);
  assert.deepEqual(presented.map((p) => p.resource), [API_A]);
  assert.equal((await a.getToken()).accessToken, signedIn.accessToken, 'the main token carried into generation 2');
  assert.equal(presented.length, 1);
});

test('the audiences map is sealed: a record whose map was changed does not authenticate', async () => {
  const a = await window('slot-5');
  await a.signIn(tokens(), { id: 'u1', label: 'User One' });
  const forA = await a.getToken({ resource: API_A });
  const dir = join(root, 'slot-5');
  const store = SealedStore.open(dir, 'slot-5');
  const gen = store.latestGen();
  const file = join(dir, `g-${String(gen).padStart(12, '0')}.sealed`);
  const record = JSON.parse(readFileSync(file, 'utf8')) as { ct: string };
  // Flip one byte of the ciphertext (the sealed body holds the audiences map).
  const ct = Buffer.from(record.ct, 'base64url');
  ct[ct.length - 1]! ^= 1;
  writeFileSync(file, JSON.stringify({ ...record, ct: ct.toString('base64url') }));
  const reader = await window('slot-5');
  const read = await reader.getToken({ resource: API_A }).then((g) => g.accessToken, (err: unknown) => err);
  assert.notEqual(read, forA.accessToken, 'a tampered record is never served');
});

test('a refused resource: a clear error, every access token still served, the refresh token never presented again', async () => {
  const a = await window('slot-6');
  const b = await window('slot-6');
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  const forA = await a.getToken({ resource: API_A });
  presented.length = 0;
  await assert.rejects(b.getToken({ resource: REFUSED }), (err: unknown) => {
    assert.ok(err instanceof TokenRelayError);
    assert.equal(err.code, 'idp-rejected');
    assert.match(err.message, /refused a token for the resource https:\/\/refused\.test/);
    assert.match(err.message, /RFC 8707 resource indicators/);
    return true;
  });
  assert.equal(presented.length, 1);
  assert.equal((await a.getToken()).accessToken, signedIn.accessToken, 'the configured audience is still served, without sign-in');
  assert.equal((await b.getToken({ resource: API_A })).accessToken, forA.accessToken, 'another audience is still served');
  assert.equal(a.status().state, 'signed-in');
  // Once a refresh is needed, the token that may have been spent is not presented: sign in again.
  now += 3_600_000;
  await assert.rejects(a.getToken(), (err: unknown) => err instanceof TokenRelayError && err.code === 'needs-sign-in' && /refused a refresh for the resource/.test(err.message));
  assert.equal(presented.length, 1, 'nothing presented after the refusal');
  assertNoReuse();
});

test('a malformed resource is a config error and presents nothing', async () => {
  const a = await window('slot-7');
  await a.signIn(tokens(), { id: 'u1', label: 'User One' });
  presented.length = 0;
  await assert.rejects(a.getToken({ resource: 'not a uri' }), (err: unknown) => err instanceof TokenRelayError && err.code === 'config');
  assert.equal(presented.length, 0);
});

test('while one process refreshes for A, a waiter for A adopts its token and a waiter for B refreshes B on the generation it wrote', async () => {
  const x = await window('slot-8');
  const y = await window('slot-8');
  const z = await window('slot-8');
  await x.signIn(tokens(), { id: 'u1', label: 'User One' });
  presented.length = 0;
  let open!: () => void;
  gate = new Promise((resolve) => { open = resolve; });
  const forX = x.getToken({ resource: API_A });
  await waitUntil(() => presented.length === 1); // x holds the lock and the claim, its request in flight
  const forY = y.getToken({ resource: API_A });
  const forZ = z.getToken({ resource: API_B });
  gate = undefined;
  open();
  const [a1, a2, b1] = await Promise.all([forX, forY, forZ]);
  assert.equal(a2.accessToken, a1.accessToken, 'the waiter for A adopted the token x got');
  assert.deepEqual(presented.map((p) => p.resource), [API_A, API_B], 'one refresh per audience');
  assert.equal(b1.generation, a1.generation + 1, 'B was refreshed on the generation A wrote');
  assert.equal((await y.getToken({ resource: API_A })).accessToken, a1.accessToken, 'A carried into B\'s generation');
  assertNoReuse();
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}
