// The IdP misbehaves: 500s, hangs, refused connections. The session is kept and recovers.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { World, until } from '../harness/fixture.ts';
import type { FaultMode } from '../idp/server.ts';

let world: World | undefined;
afterEach(async () => { await world?.close(); world = undefined; });

for (const mode of ['error500', 'refuse'] as FaultMode[]) {
  test(`IdP ${mode}: session kept, offline reported, recovers by itself when the IdP is back`, { timeout: 60_000 }, async () => {
    world = await World.create({ storeModel: 'shared-lag', lagMs: 50, ttl: 4 }); // outlives one 1.5 s hang
    await world.signIn();
    const a = await world.spawn('a', { refreshTimeoutMs: 1500 });
    const b = await world.spawn('b', { refreshTimeoutMs: 1500 });
    const [before] = await a.getTokens(1);
    await world.idp.setFault(mode);
    // While the token is still valid by the clock, a failed early refresh still hands it out.
    const early = await a.getTokens(1, { minValidityMs: 60_000 });
    assert.ok(early[0].ok, early[0].message);
    assert.equal(early[0].token, before.token);
    const status = await a.request<{ expiresAt: number }>({ cmd: 'status' });
    await until(status.expiresAt + 10);
    const during = (await Promise.all([a.getTokens(3), b.getTokens(3)])).flat();
    assert.ok(during.every((r) => !r.ok && r.code === 'offline'), JSON.stringify(during.map((r) => r.code)));
    assert.match(during[0].message!, /could not be reached/);
    assert.equal((await a.request<{ state: string }>({ cmd: 'status' })).state, 'offline');
    assert.equal(world.idp.counters().grantRevocations, 0);
    const grantsBefore = world.idp.counters().refreshGrants;
    await world.idp.setFault('none');
    // The backoff timer retries without any caller; wait for the event it produces.
    await Promise.race([a, b].map((w) => w.waitFor((e) => e.event === 'broker' && e.type === 'refreshed', 15_000, 'refreshed')));
    const after = (await Promise.all([a.getTokens(3), b.getTokens(3)])).flat();
    assert.deepEqual(after.filter((r) => !r.ok), []);
    assert.equal(new Set(after.map((r) => r.token)).size, 1);
    assert.equal(world.idp.counters().refreshGrants - grantsBefore, 1);
    assert.equal(world.idp.counters().grantRevocations, 0);
    assert.equal((await world.idp.introspect(after[0].token!)).active, true);
  });
}

async function hangThenDrop(reuseGraceSeconds: number) {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 50, ttl: 4, reuseGraceSeconds });
  await world.signIn();
  const opts = { refreshTimeoutMs: 1000, reuseGraceMs: reuseGraceSeconds * 1000 };
  const a = await world.spawn('a', opts);
  const b = await world.spawn('b', opts);
  await a.getTokens(1);
  world.idp.resetCounters();
  await world.idp.setFault('hang');
  const status = await a.request<{ expiresAt: number }>({ cmd: 'status' });
  await until(status.expiresAt + 10);
  const during = (await Promise.all([a.getTokens(1), b.getTokens(1)])).flat();
  assert.ok(during.every((r) => !r.ok && r.code === 'offline'), JSON.stringify(during.map((r) => r.code)));
  // The IdP drops the hung connection: the request was sent and its answer is lost.
  await world.idp.setFault('none');
  return { a, b };
}

test('a refresh whose answer is lost after sending (strict IdP): needs sign-in at once, never re-presented, nothing revoked', { timeout: 60_000 }, async () => {
  const { a, b } = await hangThenDrop(0);
  await a.waitFor((e) => e.event === 'broker' && e.type === 'needs-sign-in', 15_000, 'needs-sign-in');
  const after = (await Promise.all([a.getTokens(1), b.getTokens(1)])).flat();
  assert.ok(after.every((r) => !r.ok && r.code === 'needs-sign-in'), JSON.stringify(after.map((r) => r.code)));
  assert.match(after[0].message!, /answer was lost/);
  const counters = world!.idp.counters();
  assert.equal(counters.refreshGrants, 0, 'the token was not presented again');
  assert.deepEqual(counters.errors, {});
  assert.equal(counters.grantRevocations, 0);
});

test('a refresh whose answer is lost after sending (IdP with reuse grace): presented again inside the grace, session kept', { timeout: 60_000 }, async () => {
  const { a, b } = await hangThenDrop(30);
  await Promise.race([a, b].map((w) => w.waitFor((e) => e.event === 'broker' && e.type === 'refreshed', 15_000, 'refreshed')));
  const after = (await Promise.all([a.getTokens(2), b.getTokens(2)])).flat();
  assert.deepEqual(after.filter((r) => !r.ok).map((r) => r.message), []);
  assert.equal(new Set(after.map((r) => r.token)).size, 1);
  const counters = world!.idp.counters();
  assert.equal(counters.refreshGrants, 1);
  assert.deepEqual(counters.errors, {});
  assert.equal(counters.grantRevocations, 0);
  assert.equal((await world!.idp.introspect(after[0].token!)).active, true);
});

test('a refresh answered after the timeout: its token is never presented again, and the late answer is used', { timeout: 60_000 }, async () => {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 50, ttl: 4 });
  await world.signIn();
  const a = await world.spawn('a', { refreshTimeoutMs: 1000 });
  const b = await world.spawn('b', { refreshTimeoutMs: 1000 });
  await a.getTokens(1);
  world.idp.resetCounters();
  await world.idp.setFault('slow'); // the server rotates, but its answer is late
  const status = await a.request<{ expiresAt: number }>({ cmd: 'status' });
  await until(status.expiresAt + 10);
  const during = (await Promise.all([a.getTokens(2), b.getTokens(2)])).flat();
  assert.ok(during.every((r) => !r.ok && r.code === 'offline'), JSON.stringify(during.map((r) => r.code)));
  assert.equal(world.idp.counters().refreshGrants, 1, 'the slow request was processed');
  // More callers while the answer is outstanding must not re-present the rotated token.
  await Promise.all([a.getTokens(2), b.getTokens(2)]);
  await world.idp.setFault('none');
  await Promise.race([a, b].map((w) => w.waitFor((e) => e.event === 'broker' && e.type === 'refreshed', 15_000, 'refreshed')));
  assert.equal(world.idp.counters().refreshGrants, 1, 'the late answer was adopted, not replaced');
  const after = (await Promise.all([a.getTokens(3), b.getTokens(3)])).flat();
  assert.deepEqual(after.filter((r) => !r.ok).map((r) => r.message), []);
  const counters = world.idp.counters();
  assert.deepEqual(counters.errors, {}, 'no reuse of the rotated refresh token');
  assert.equal(counters.grantRevocations, 0);
  // Its access token may have outlived its lifetime in transit; its refresh token is the live one.
  const [next] = await b.getTokens(1, { rejectedAccessToken: after[0].token });
  assert.ok(next.ok, next.message);
  assert.equal((await world.idp.introspect(next.token!)).active, true);
  assert.deepEqual(world.idp.counters().errors, {});
  assert.equal(world.idp.counters().grantRevocations, 0);
});
