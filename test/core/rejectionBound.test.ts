// The bound on rejected-token reports, on a clock the test moves: a token that replaced a rejected
// one and is rejected again within TIMEOUTS.rejectedFresh is answered with fresh-token-rejected and
// nothing is presented, in this broker and in any other one of the slot (the origin is sealed in
// the generation's record). After the bound, for a token the clock says has expired, and for
// Refresh Now, a rejection refreshes as before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenRelayError } from '../../src/core/errors.ts';
import { TIMEOUTS } from '../../src/core/timeouts.ts';
import type { RefreshClient, TokenSet } from '../../src/core/types.ts';
import { brokerWindows } from './brokerWindows.ts';

let now = Date.now();
const clock = { now: () => now };
let issued = 0;
const tokens = (lifetimeMs = 3_600_000): TokenSet => {
  const n = ++issued;
  return { accessToken: `access-${n}-${'x'.repeat(40)}`, refreshToken: `refresh-${n}-${'y'.repeat(40)}`, tokenType: 'Bearer', expiresAt: now + lifetimeMs, obtainedAt: now };
};
let lifetimeMs = 3_600_000;
const presented: string[] = [];
const client: RefreshClient = { origin: async () => ({ tokenEndpoint: 'https://idp.test/token', issuer: 'https://idp.test', clientId: 'tokenrelay' }), refresh: async (rt) => { presented.push(rt); return tokens(lifetimeMs); }, revoke: async () => undefined };

const { window } = brokerWindows('tokenrelay-bound-', { client, clock });

const refusedFresh = (p: Promise<unknown>) => assert.rejects(p, (err: unknown) => {
  assert.ok(err instanceof TokenRelayError, String(err));
  assert.equal(err.code, 'fresh-token-rejected');
  assert.match(err.message, /^The server rejects freshly issued tokens: check tokenrelay\.resource \/ scopes \/ audience\. The rejected token \(generation \d+\) was issued \d+ s ago/);
  return true;
});

test('a second rejection within the bound presents nothing, in either broker; after the bound it refreshes', async () => {
  const a = await window('slot-a');
  const b = await window('slot-a');
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  presented.length = 0;
  const replaced = await a.getToken({ rejectedAccessToken: signedIn.accessToken });
  assert.equal(presented.length, 1, 'the first rejection (of a signed-in token) refreshes');
  now += 1_000;
  await refusedFresh(a.getToken({ rejectedAccessToken: replaced.accessToken }));
  await refusedFresh(b.getToken({ rejectedAccessToken: replaced.accessToken }));
  assert.equal(presented.length, 1, 'nothing presented for a rejection of the replacement, by this broker or another');
  assert.equal((await b.getToken()).accessToken, replaced.accessToken, 'the session is kept: the token is still handed out');
  assert.equal((await a.getToken({ rejectedAccessToken: signedIn.accessToken })).accessToken, replaced.accessToken, 'a report of the old token still gets the current one');

  now += TIMEOUTS.rejectedFresh;
  const later = await b.getToken({ rejectedAccessToken: replaced.accessToken });
  assert.equal(presented.length, 2, 'older than the bound: refreshed once more');
  assert.notEqual(later.accessToken, replaced.accessToken);
  now += 1_000;
  await refusedFresh(a.getToken({ rejectedAccessToken: later.accessToken }));
  assert.equal(presented.length, 2);
});

test('Refresh Now (force) is not bounded; a token the clock has expired refreshes; a routine refresh is not a rejection', async () => {
  const a = await window('slot-b');
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  presented.length = 0;
  const replaced = await a.getToken({ rejectedAccessToken: signedIn.accessToken });
  const forced = await a.getToken({ rejectedAccessToken: replaced.accessToken, force: true });
  assert.equal(presented.length, 2, 'the user asked: refreshed');
  assert.notEqual(forced.accessToken, replaced.accessToken);
  now += 1_000;
  await refusedFresh(a.getToken({ rejectedAccessToken: forced.accessToken }));
  assert.equal(presented.length, 2, 'a server rejecting what Refresh Now just got is bounded like any fresh token');

  lifetimeMs = 4_000; // shorter than the bound
  now += TIMEOUTS.rejectedFresh;
  const short = await a.getToken({ rejectedAccessToken: forced.accessToken });
  assert.equal(presented.length, 3);
  now += 5_000; // expired by the clock, still younger than the bound
  const next = await a.getToken({ rejectedAccessToken: short.accessToken });
  assert.equal(presented.length, 4, 'an expired token is refreshed whatever a server said');
  lifetimeMs = 3_600_000;
  now += 5_000;
  // A refresh made because the token ran out, not because a server rejected it, is not bounded.
  const routine = await a.getToken({ minValidityMs: 1 });
  assert.equal(presented.length, 5);
  assert.notEqual(routine.accessToken, next.accessToken);
  now += 1_000;
  const afterRoutine = await a.getToken({ rejectedAccessToken: routine.accessToken });
  assert.equal(presented.length, 6, 'the first rejection of a routinely refreshed token refreshes');
  assert.notEqual(afterRoutine.accessToken, routine.accessToken);
});
