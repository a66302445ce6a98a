// The lock holder dies or freezes at the worst moments. Ground truth: the IdP's own counters.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { World, until } from '../harness/fixture.ts';
import { sleep } from '../support/wait.ts';
import type { WindowProcess } from '../harness/windowProcess.ts';

let world: World | undefined;
afterEach(async () => { await world?.close(); world = undefined; });

async function setUp(pauseAt: 'locked' | 'answered', ttl = 4) {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 100, ttl });
  await world.signIn();
  const holder = await world.spawn('holder', { pauseAt });
  const others = [await world.spawn('other-1'), await world.spawn('other-2')];
  await Promise.all([holder, ...others].map((w) => w.getTokens(1)));
  world.idp.resetCounters();
  const status = await holder.request<{ expiresAt: number }>({ cmd: 'status' });
  await until(status.expiresAt + 10);
  const held = holder.getTokens(1).catch(() => []); // freezes inside
  await holder.waitFor((e) => e.event === 'hook', 10_000, 'hook');
  await holder.stopped(); // it stops itself right after reporting: a SIGCONT before that would be lost
  return { holder, others, held };
}


/** When another process first took the lock after `since` (from the windows' log timestamps). */
function takeoverMs(since: number, holderPid: number): number {
  for (const line of world!.logs().split('\n')) {
    const at = Date.parse(line.slice(0, 24));
    if (at >= since && line.includes('Acquired token refresh lock') && !line.includes(`pid ${holderPid}:`)) return at - since;
  }
  return Infinity;
}

const allOk = (results: { ok: boolean; message?: string }[]) => assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.message), []);

test('kill -9 of the holder before it sends: taken over within 3.5 s (stale after 2 s), exactly one refresh', { timeout: 60_000 }, async () => {
  const { holder, others } = await setUp('locked');
  const killedAt = Date.now();
  holder.child.kill('SIGKILL');
  const results = (await Promise.all(others.map((w) => w.getTokens(5)))).flat();
  const tookMs = takeoverMs(killedAt, holder.pid);
  allOk(results);
  assert.equal(new Set(results.map((r) => r.token)).size, 1, 'everybody adopted the one new token');
  assert.ok(tookMs < 3500, `takeover took ${tookMs} ms`);
  assert.equal(world!.idp.counters().refreshGrants, 1);
  assert.equal(world!.idp.counters().grantRevocations, 0);
  assert.equal((await world!.idp.introspect(results[0].token!)).active, true);
});

test('kill -9 of the holder after the server rotated (strict IdP): needs sign-in at once naming the pid, never re-presented, nothing revoked', { timeout: 60_000 }, async () => {
  const { holder, others } = await setUp('answered');
  holder.child.kill('SIGKILL');
  // The rotated token died with the holder; presenting the old one again would revoke the grant.
  const results = (await Promise.all(others.map((w) => w.getTokens(5)))).flat();
  assert.ok(results.every((r) => !r.ok && r.code === 'needs-sign-in'), JSON.stringify(results.map((r) => r.code)));
  assert.match(results[0].message!, new RegExp(`pid ${holder.pid} died while refreshing`));
  const counters = world!.idp.counters();
  assert.equal(counters.refreshGrants, 1, 'only the dead holder\'s refresh reached the IdP');
  assert.deepEqual(counters.errors, {}, 'the spent token was never presented again');
  assert.equal(counters.grantRevocations, 0);
  for (const w of others) assert.equal((await w.request<{ state: string }>({ cmd: 'status' })).state, 'needs-sign-in');
  await others[0].getTokens(3);
  assert.deepEqual(world!.idp.counters().errors, {}, 'later calls do not knock on the IdP again');
});

test('SIGSTOP of the holder before it sends, past the stale time: takeover within 3.5 s, no double spend after SIGCONT', { timeout: 60_000 }, async () => {
  const { holder, others, held } = await setUp('locked');
  const frozenAt = Date.now();
  const results = (await Promise.all(others.map((w) => w.getTokens(5)))).flat();
  const tookMs = takeoverMs(frozenAt, holder.pid);
  allOk(results);
  assert.ok(tookMs < 3500, `takeover took ${tookMs} ms`);
  holder.child.kill('SIGCONT');
  const resumed = await held;
  allOk(resumed);
  assert.equal(resumed[0].token, results[0].token, 'the woken holder adopted instead of refreshing');
  const counters = world!.idp.counters();
  assert.equal(counters.refreshGrants, 1);
  assert.equal(counters.grantRevocations, 0);
  assert.deepEqual(counters.errors, {});
  // Other windows take the lock briefly to reconcile their secret view; a lock left behind by the
  // woken holder would outlive them, so it must be gone within the stale time.
  const deadline = Date.now() + 3000;
  while (world!.lockHeld() && Date.now() < deadline) await sleep(50);
  assert.ok(!world!.lockHeld(), 'no lock left behind');
});

test('SIGSTOP of the holder after it sent: others wait for it instead of spending, and adopt after SIGCONT', { timeout: 60_000 }, async () => {
  const { holder, others, held } = await setUp('answered', 6); // the rotated token must outlive the freeze
  const waiting = Promise.all(others.map((w: WindowProcess) => w.getTokens(5)));
  // A waiter took the stale lock over, saw the live spender and chose to wait: the interesting state.
  await world!.logsMatch(/is being refreshed by pid \d+; waiting for its result/, 15_000);
  holder.child.kill('SIGCONT');
  const results = (await waiting).flat();
  allOk(results);
  allOk(await held);
  assert.equal(new Set(results.map((r) => r.token)).size, 1);
  const counters = world!.idp.counters();
  assert.equal(counters.refreshGrants, 1);
  assert.equal(counters.grantRevocations, 0);
  assert.deepEqual(counters.errors, {});
  assert.equal((await world!.idp.introspect(results[0].token!)).active, true);
});

test('twelve waiters take over a dead holder\'s stale lock at once: one refresh, and no lock error reaches a caller (P6)', { timeout: 90_000 }, async () => {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 50, ttl: 60 });
  await world.signIn();
  const holder = await world.spawn('holder', { pauseAt: 'locked', faultAction: 'kill' });
  const waiters = await Promise.all(Array.from({ length: 12 }, (_, i) => world!.spawn(`waiter-${i + 1}`)));
  const [first] = await holder.getTokens(1);
  await Promise.all(waiters.map((w) => w.getTokens(1)));
  world.idp.resetCounters();
  const rejected = { rejectedAccessToken: first.token };
  void holder.getTokens(1, rejected).catch(() => []);
  await holder.exited; // it died holding the lock; all twelve find it stale together
  const results = (await Promise.all(waiters.map((w) => w.getTokens(3, rejected)))).flat();
  allOk(results);
  assert.equal(new Set(results.map((r) => r.token)).size, 1);
  const counters = world.idp.counters();
  assert.equal(counters.refreshGrants, 1, 'one refresh however many took the lock over');
  assert.deepEqual(counters.errors, {});
  assert.equal(counters.grantRevocations, 0);
  assert.doesNotMatch(world.logs(), /ENOENT|EEXIST|internal/, 'lock races stay inside the lock');
});
