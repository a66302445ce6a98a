// The send mark (issue 17): a claimer removes its claim's `unsent` companion, durably, before its
// refresh request exists. Killed before that, it provably presented nothing, and a survivor presents
// the token under a retry claim; killed after it, the token may be spent, and the strict IdP's
// session ends in needs-sign-in (P1). The IdP's counters are the ground truth.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { World } from '../harness/fixture.ts';

let world: World | undefined;
afterEach(async () => { await world?.close(); world = undefined; });

const claimFiles = (w: World) => readdirSync(w.slotDir).filter((n) => n.startsWith('spend-')).sort();

async function killedAt(step: 'claimed' | 'sent') {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 100, ttl: 60 });
  await world.signIn();
  const opts = { lockWaitMs: 5000, reuseGraceMs: 0 };
  const actor = await world.spawn('actor', { ...opts, pauseAt: step, faultAction: 'kill' });
  const survivor = await world.spawn('survivor', opts);
  const [first] = await actor.getTokens(1);
  assert.equal((await survivor.getTokens(1))[0].token, first.token);
  world.idp.resetCounters();
  const rejected = { rejectedAccessToken: first.token };
  void actor.getTokens(1, rejected).catch(() => []);
  await actor.exited;
  const left = claimFiles(world);
  const results = await survivor.getTokens(2, rejected);
  return { world, actor, survivor, left, results, first, counters: world.idp.counters() };
}

test('send mark: a claimer killed after claiming, before the mark, presented nothing; a survivor presents the token and the session recovers (strict IdP)', { timeout: 60_000 }, async () => {
  const { left, results, first, counters, survivor } = await killedAt('claimed');
  const claim = left.find((n) => /^spend-\d+$/.test(n));
  assert.ok(claim && left.includes(`${claim}.unsent`), `the dead claim is unmarked: ${left.join(', ')}`);
  assert.deepEqual(results.filter((r) => !r.ok).map((r) => `${r.code}: ${r.message}`), []);
  assert.equal(new Set(results.map((r) => r.token)).size, 1);
  assert.notEqual(results[0].token, first.token);
  assert.equal((await world!.idp.introspect(results[0].token!)).active, true);
  assert.equal(counters.refreshGrants, 1, 'the token was presented exactly once');
  assert.equal(counters.grantRevocations, 0, 'no grant revoked');
  assert.deepEqual(counters.errors, {}, 'no spent refresh token presented again');
  assert.ok(claimFiles(world!).includes(`${claim}.1`), 'presented under a retry claim');
  assert.equal((await survivor.request<{ state: string }>({ cmd: 'status' })).state, 'signed-in');
});

test('send mark: a claimer killed after the mark may have presented the token: needs-sign-in, never a second presentation (strict IdP)', { timeout: 60_000 }, async () => {
  const { left, results, counters, actor, survivor } = await killedAt('sent');
  const claim = left.find((n) => /^spend-\d+$/.test(n));
  assert.ok(claim && !left.includes(`${claim}.unsent`), `the dead claim is marked: ${left.join(', ')}`);
  assert.ok(results.every((r) => !r.ok && r.code === 'needs-sign-in'), JSON.stringify(results));
  assert.match(results[0].message!, new RegExp(`pid ${actor.pid} died while refreshing`));
  assert.ok(counters.refreshGrants <= 1, 'only the dead claimer may have presented the token');
  assert.equal(counters.grantRevocations, 0, 'no grant revoked');
  assert.deepEqual(counters.errors, {}, 'no spent refresh token presented again');
  assert.ok(!claimFiles(world!).includes(`${claim}.1`), 'no retry claim');
  assert.equal((await survivor.request<{ state: string }>({ cmd: 'status' })).state, 'needs-sign-in');
});
