// The fault matrix: a kill, a short and a long freeze, a full and a read-only disk, injected at
// every step of the refresh protocol in a window that is its own OS process, with siblings that
// are too. The IdP's own counters are the ground truth. docs/faults.md's fault table is this file.
//
// CI runs every (step, fault) pair once: kills under both the strict and the reuse-grace IdP,
// the store model alternating. TOKENRELAY_MATRIX=full runs every pair under both store models.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../harness/fixture.ts';
import { sleep, waitFor } from '../support/wait.ts';
import type { WindowProcess } from '../harness/windowProcess.ts';
import type { TokenResult } from '../harness/protocol.ts';
import type { StoreModel } from '../harness/stores.ts';
import type { ProtocolStep } from '../../src/core/broker.ts';

type Fault = 'kill' | 'stop-3s' | 'stop-past-bound' | 'enospc' | 'erofs';
const STEPS: ProtocolStep[] = ['locked', 'claimed', 'sent', 'answered', 'durable', 'released'];
const FAULTS: Fault[] = ['kill', 'stop-3s', 'stop-past-bound', 'enospc', 'erofs'];
/** The lock-wait bound in this matrix, scaled down from 30 s; the 40 s freeze against 30 s is its own test below. */
const BOUND_MS = 5000;
/** How much longer than the bound any call may take (process start-up, the IdP, a busy machine). */
const SLACK_MS = 4000;

interface Case { step: ProtocolStep; fault: Fault; storeModel: StoreModel; grace: boolean }

function cases(): Case[] {
  const full = process.env.TOKENRELAY_MATRIX === 'full';
  const out: Case[] = [];
  let i = 0;
  for (const fault of FAULTS) {
    for (const step of STEPS) {
      for (const grace of fault === 'kill' ? [false, true] : [false]) {
        const models: StoreModel[] = full ? ['shared-lag', 'snapshot'] : [i++ % 2 === 0 ? 'shared-lag' : 'snapshot'];
        for (const storeModel of models) out.push({ step, fault, storeModel, grace });
      }
    }
  }
  return out;
}

/**
 * Where the grant ends: a dead claimer's token is never presented again once its claim is marked
 * (before the request exists, so at "sent" and later), except inside a reuse grace (P1). Killed at
 * "claimed", before the mark, it presented nothing: a survivor presents the token and all recover.
 */
function endsSignedOut(c: Case): boolean {
  return c.fault === 'kill' && !c.grace && (c.step === 'sent' || c.step === 'answered');
}

/** A read-only disk between the claim and the send mark: the mark cannot be made, so nothing is sent (P5 then retries). */
const unsentOnReadOnly = (c: Case) => c.fault === 'erofs' && c.step === 'claimed';

let world: World | undefined;
afterEach(async () => { await world?.close(); world = undefined; });

const timed = async (call: Promise<TokenResult[]>) => {
  const started = Date.now();
  const results = await call;
  return { results, ms: Date.now() - started };
};
const failuresOf = (results: TokenResult[]) => results.filter((r) => !r.ok).map((r) => `${r.code}: ${r.message}`);
const stateOf = async (w: WindowProcess) => (await w.request<{ state: string; generation?: number }>({ cmd: 'status' }));


for (const c of cases()) {
  const name = `${c.fault} at "${c.step}" (${c.storeModel}, ${c.grace ? 'reuse-grace' : 'strict'} IdP)`;
  test(`fault matrix: ${name}`, { timeout: 90_000 }, () => withLogsOnFailure(() => runCase(c, name)));
}

/** A failed case prints the windows' log (it is deleted with the world). */
async function withLogsOnFailure(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    console.error(`--- windows' log ---\n${world?.logs().split('\n').slice(-80).join('\n')}`);
    throw err;
  }
}

async function runCase(c: Case, name: string): Promise<void> {
  {
    const disk = c.fault === 'enospc' || c.fault === 'erofs';
    world = await World.create({ storeModel: c.storeModel, lagMs: 100, ttl: 60, reuseGraceSeconds: c.grace ? 30 : 0, smallDisk: disk });
    await world.signIn();
    const opts = { lockWaitMs: BOUND_MS, reuseGraceMs: c.grace ? 30_000 : 0, refreshTimeoutMs: 3000 };
    const actor = await world.spawn('actor', { ...opts, pauseAt: c.step, faultAction: c.fault === 'kill' ? 'kill' : 'stop' });
    const siblings = [await world.spawn('sibling-1', opts), await world.spawn('sibling-2', opts)];
    const [first] = await actor.getTokens(1);
    for (const w of siblings) assert.equal((await w.getTokens(1))[0].token, first.token);
    world.idp.resetCounters();

    // A server answered 401 to the current token: the actor refreshes, and meets its fault at the step.
    const rejected = { rejectedAccessToken: first.token };
    const acting = timed(actor.getTokens(1, rejected).catch(() => []));
    await actor.waitFor((e) => e.event === 'hook', 20_000, `the "${c.step}" step`);
    if (c.fault === 'kill') await actor.exited;
    else await actor.stopped();
    const faultAt = Date.now();
    const calls: { results: TokenResult[]; ms: number }[] = [];

    if (c.fault === 'stop-3s') {
      // While it is frozen, a caller with nothing to report gets the still-valid token at once (P4).
      const plain = await timed(siblings[0].getTokens(1));
      assert.deepEqual(failuresOf(plain.results), []);
      if (!['durable', 'released'].includes(c.step)) assert.equal(plain.results[0].token, first.token);
      assert.ok(plain.ms < 1000, `a plain caller waited ${plain.ms} ms behind a frozen spender`);
      const reporting = timed(siblings[1].getTokens(1, rejected));
      await sleep(3000); // the freeze itself
      actor.child.kill('SIGCONT');
      calls.push(await reporting);
      await acting; // a frozen process's own callers wait for it: not bounded by design

    } else if (c.fault === 'stop-past-bound') {
      const reporting = await timed(siblings[0].getTokens(1, rejected));
      calls.push(reporting);
      if (['claimed', 'sent', 'answered'].includes(c.step)) {
        // The frozen process holds the claim: a clear error after the bound, never a hang, never a spend.
        assert.equal(reporting.results[0].code, 'refresh-stuck', failuresOf(reporting.results).join('; '));
        assert.match(reporting.results[0].message!, new RegExp(`pid ${actor.pid}, which is not responding`));
        const grants = world.idp.counters().refreshGrants;
        if (c.step === 'claimed') assert.equal(grants, 0, 'nobody else presented the token');
        else assert.ok(grants <= 1, 'nobody else presented the token');
      }
      const frozenFor = BOUND_MS + 1000 - (Date.now() - faultAt);
      await sleep(frozenFor); // the freeze itself, past the bound
      actor.child.kill('SIGCONT');
      await acting;
    } else if (disk) {
      if (c.fault === 'enospc') world.disk!.fill();
      else world.disk!.readOnly();
      actor.child.kill('SIGCONT');
      const acted = await acting;
      calls.push(acted);
      if (['claimed', 'sent', 'answered'].includes(c.step) && !unsentOnReadOnly(c)) {
        // P5: the new generation is served from memory, and its claim keeps everyone else from spending.
        assert.deepEqual(failuresOf(acted.results), []);
        assert.notEqual(acted.results[0].token, first.token);
        assert.equal((await stateOf(actor)).state, 'degraded');
      }
      if (c.step === 'locked' || unsentOnReadOnly(c)) {
        assert.match(failuresOf(acted.results).join('; '), /lock-dir: .*cannot write its slot directory .*Make the directory writable/);
        if (unsentOnReadOnly(c)) assert.equal(world.idp.counters().refreshGrants, 0, 'the claim could not be marked, so nothing was sent');
      }
      if (c.fault === 'enospc') world.disk!.free();
      else world.disk!.readWrite();
      // Once the directory takes writes again, the generation lands within the retry interval (P5).
      await waitFor('the actor persisted', 10_000, async () => (await stateOf(actor)).state !== 'degraded');
    } else {
      calls.push(await acting); // the actor killed itself at the step
    }

    // Every live window ends in the same place, with no caller left waiting past its bound.
    const live = c.fault === 'kill' ? siblings : [actor, ...siblings];
    const ended = await Promise.all(live.map((w) => timed(w.getTokens(2, rejected))));
    calls.push(...ended);
    const recoveredMs = Date.now() - faultAt;
    for (const call of calls) assert.ok(call.ms < BOUND_MS + SLACK_MS, `a call waited ${call.ms} ms`);
    const results = ended.flatMap((e) => e.results);
    const counters = world.idp.counters();
    assert.equal(counters.grantRevocations, 0, 'no grant revoked');
    assert.deepEqual(counters.errors, {}, 'no spent refresh token presented again');
    if (endsSignedOut(c)) {
      assert.ok(results.every((r) => !r.ok && r.code === 'needs-sign-in'), JSON.stringify(failuresOf(results)));
      assert.match(results[0].message!, new RegExp(`pid ${actor.pid} died while refreshing`));
      for (const w of live) assert.equal((await stateOf(w)).state, 'needs-sign-in');
    } else {
      assert.deepEqual(failuresOf(results), []);
      assert.equal(new Set(results.map((r) => r.token)).size, 1, 'every window holds the one new generation');
      assert.notEqual(results[0].token, first.token);
      assert.equal((await world.idp.introspect(results[0].token!)).active, true);
      assert.equal(counters.refreshGrants, 1, 'one refresh for the whole episode');
      for (const w of live) assert.equal((await stateOf(w)).state, 'signed-in');
    }
    if (c.grace && c.fault === 'kill' && (c.step === 'answered' || c.step === 'sent')) {
      assert.ok(counters.graceReuses <= 1, 'at most one presentation inside the grace');
    }
    console.log(`# ${name}: recovered in ${recoveredMs} ms; grants ${counters.refreshGrants}, grace reuses ${counters.graceReuses}, revocations ${counters.grantRevocations}`);
  }
}

// ---- the real 40 s freeze against the real 30 s bound, and double faults ------------------------

test('SIGSTOP of the spender for 40 s (the real 30 s bound): the current token meanwhile, a clear error after the bound, recovery on SIGCONT', { timeout: 120_000 }, async () => {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 100, ttl: 120 });
  await world.signIn();
  const actor = await world.spawn('actor', { pauseAt: 'sent' });
  const sibling = await world.spawn('sibling');
  const [first] = await actor.getTokens(1);
  world.idp.resetCounters();
  const acting = actor.getTokens(1, { rejectedAccessToken: first.token }).catch(() => []);
  await actor.waitFor((e) => e.event === 'hook', 20_000, 'the "sent" step');
  await actor.stopped();
  const frozenAt = Date.now();
  // Proactive refreshes and plain callers still get the valid token at once.
  const plain = await timed(sibling.getTokens(1));
  assert.equal(plain.results[0].token, first.token);
  assert.ok(plain.ms < 1000, `${plain.ms} ms`);
  const reporting = await timed(sibling.getTokens(1, { rejectedAccessToken: first.token }));
  assert.equal(reporting.results[0].code, 'refresh-stuck');
  assert.match(reporting.results[0].message!, new RegExp(`refresh is in progress in pid ${actor.pid}, which is not responding`));
  assert.ok(reporting.ms >= 29_000 && reporting.ms < 35_000, `the caller waited ${reporting.ms} ms (bound 30 s)`);
  await sleep(40_000 - (Date.now() - frozenAt)); // the freeze itself
  actor.child.kill('SIGCONT');
  await acting;
  const after = (await Promise.all([actor.getTokens(1), sibling.getTokens(1)])).flat();
  assert.deepEqual(failuresOf(after), []);
  assert.equal(new Set(after.map((r) => r.token)).size, 1);
  assert.notEqual(after[0].token, first.token);
  const counters = world.idp.counters();
  assert.equal(counters.refreshGrants, 1);
  assert.equal(counters.grantRevocations, 0);
  assert.deepEqual(counters.errors, {});
});

for (const grace of [false, true]) {
  test(`double fault: the spender and then its successor are killed after sending (${grace ? 'reuse-grace' : 'strict'} IdP)`, { timeout: 90_000 }, async () => {
    world = await World.create({ storeModel: 'snapshot', ttl: 60, reuseGraceSeconds: grace ? 30 : 0 });
    await world.signIn();
    const opts = { lockWaitMs: BOUND_MS, reuseGraceMs: grace ? 30_000 : 0 };
    const actor = await world.spawn('actor', { ...opts, pauseAt: 'answered', faultAction: 'kill' });
    const successor = await world.spawn('successor', { ...opts, pauseAt: 'answered', faultAction: 'kill' });
    const last = await world.spawn('last', opts);
    const [first] = await actor.getTokens(1);
    await Promise.all([successor.getTokens(1), last.getTokens(1)]);
    world.idp.resetCounters();
    const rejected = { rejectedAccessToken: first.token };
    void actor.getTokens(1, rejected).catch(() => []);
    await actor.exited;
    void successor.getTokens(1, rejected).catch(() => []);
    if (grace) await successor.exited; // inside the grace the successor presents again, and dies too
    const ended = await timed(last.getTokens(2, rejected));
    assert.ok(ended.ms < BOUND_MS + SLACK_MS, `the last window waited ${ended.ms} ms: the session wedged`);
    const counters = world.idp.counters();
    assert.equal(counters.grantRevocations, 0);
    assert.deepEqual(counters.errors, {});
    if (grace) {
      assert.deepEqual(failuresOf(ended.results), []);
      assert.equal((await world.idp.introspect(ended.results[0].token!)).active, true);
      assert.ok(counters.graceReuses >= 1, 'the dead spenders\' token was presented again inside the grace');
    } else {
      assert.ok(ended.results.every((r) => r.code === 'needs-sign-in'), JSON.stringify(failuresOf(ended.results)));
      assert.match(ended.results[0].message!, new RegExp(`pid ${actor.pid} died while refreshing`));
      assert.equal(counters.refreshGrants, 1, 'only the first spender presented the token');
    }
  });
}

test('double fault: the spender and a follower frozen together; both resumed, one refresh, everyone adopts', { timeout: 90_000 }, async () => {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 100, ttl: 60 });
  await world.signIn();
  const opts = { lockWaitMs: BOUND_MS };
  const actor = await world.spawn('actor', { ...opts, pauseAt: 'claimed' });
  const follower = await world.spawn('follower', opts);
  const other = await world.spawn('other', opts);
  const [first] = await actor.getTokens(1);
  await Promise.all([follower.getTokens(1), other.getTokens(1)]);
  world.idp.resetCounters();
  const rejected = { rejectedAccessToken: first.token };
  const acting = actor.getTokens(1, rejected).catch(() => []);
  await actor.waitFor((e) => e.event === 'hook', 20_000, 'the "claimed" step');
  await actor.stopped();
  const following = follower.getTokens(1, rejected);
  await world.logsMatch(new RegExp(`follower pid ${follower.pid}: Generation \\d+ is being refreshed by pid ${actor.pid}`), 10_000);
  follower.child.kill('SIGSTOP');
  await sleep(3000); // both frozen
  follower.child.kill('SIGCONT');
  actor.child.kill('SIGCONT');
  await acting;
  await following;
  const after = (await Promise.all([actor, follower, other].map((w) => w.getTokens(1, rejected)))).flat();
  assert.deepEqual(failuresOf(after), []);
  assert.equal(new Set(after.map((r) => r.token)).size, 1);
  const counters = world.idp.counters();
  assert.equal(counters.refreshGrants, 1);
  assert.equal(counters.grantRevocations, 0);
  assert.deepEqual(counters.errors, {});
});
