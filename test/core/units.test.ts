// Small in-memory pieces whose contracts the broker relies on: redaction, backoff, credentials,
// sealing, freshness (P8), the account state machine, single flight and frozen-time deadlines (P8).
// The pieces that live in the slot directory are in slotFiles.unit.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { Redactor, redactingLogger } from '../../src/core/redact.ts';
import { backoffDelay } from '../../src/core/backoff.ts';
import { parseCredentials } from '../../src/core/credentials.ts';
import { fingerprint } from '../../src/core/fingerprint.ts';
import { KEY_BYTES, aadOf, keyIdOf, newSealKey, open, seal, sealKeyOf, type SealedBox } from '../../src/core/seal.ts';
import { FreshnessPolicy } from '../../src/core/freshness.ts';
import { eventOf, problemOf, statusNameOf, transition, type AccountInput, type AccountState, type Problem } from '../../src/core/accountState.ts';
import { SingleFlight } from '../../src/core/singleFlight.ts';
import { TIMED_OUT, elapsed, within } from '../../src/core/deadline.ts';
import type { TokenSet } from '../../src/core/types.ts';

test('redaction: known tokens, JWTs and long opaque strings are masked; paths and fingerprints stay', () => {
  const r = new Redactor();
  r.remember('short-but-known-token');
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz';
  const opaque = 'Zq3k9vNf0Pp1xYw2LmR7sT5uV8bC4dE6gH0jK2lM9nO';
  const out = r.redact(`a=short-but-known-token b=${jwt} c=${opaque} path=/tmp/tokenrelay-0/peer-0123456789abcdef0123.sock fp=${fingerprint(opaque)}`);
  for (const secret of ['short-but-known-token', jwt, opaque]) assert.ok(!out.includes(secret), out);
  assert.match(out, /path=\/tmp\/tokenrelay-0\/peer-0123456789abcdef0123\.sock/);
  assert.match(out, new RegExp(`fp=${fingerprint(opaque)}`));
  const lines: string[] = [];
  const log = redactingLogger({ trace: (m) => lines.push(m), debug: (m) => lines.push(m), info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) }, r);
  log.error(`refresh failed for ${opaque}`);
  assert.deepEqual(lines, ['refresh failed for [redacted]']);
});

test('backoff: grows exponentially, is capped, and is jittered within [step/2, step]', () => {
  const policy = { baseMs: 100, capMs: 1000 };
  assert.equal(backoffDelay(policy, 1, () => 1), 100);
  assert.equal(backoffDelay(policy, 3, () => 1), 400);
  assert.equal(backoffDelay(policy, 10, () => 1), 1000);
  assert.equal(backoffDelay(policy, 10, () => 0), 500);
});

test('stored credentials: an unknown layout or missing tokens is a readable corrupt-secret error', () => {
  assert.throws(() => parseCredentials('{"v":2}'), /layout version 2 is unknown/);
  assert.throws(() => parseCredentials('{"v":1,"gen":1,"account":{"id":"a"}}'), /tokens are missing/);
  assert.throws(() => parseCredentials('nope'), /not valid JSON/);
});

// ---------------------------------------------------------------- seal

test('seal: a box opens under its key and AAD, and under nothing else', () => {
  const k = newSealKey();
  const other = newSealKey();
  const aad = aadOf('slot-a', 7, k.id, 'active');
  const box = seal(k, aad, '{"secret":"refresh-token-value"}');
  assert.equal(open(k, aad, box), '{"secret":"refresh-token-value"}');
  assert.ok(!Buffer.from(box.ct, 'base64').toString('utf8').includes('refresh-token-value'), 'the ciphertext does not carry the plaintext');
  const again = seal(k, aad, '{"secret":"refresh-token-value"}');
  assert.notEqual(again.iv, box.iv, 'a fresh IV per seal');

  assert.equal(open(other, aad, box), undefined, 'wrong key');
  assert.equal(open(k, aadOf('slot-b', 7, k.id, 'active'), box), undefined, 'another slot');
  assert.equal(open(k, aadOf('slot-a', 8, k.id, 'active'), box), undefined, 'another generation');
  assert.equal(open(k, aadOf('slot-a', 7, k.id, 'signed-out'), box), undefined, 'another state');
  assert.equal(open(k, aadOf('slot-a', 7, other.id, 'active'), box), undefined, 'another key id');

  const ct = Buffer.from(box.ct, 'base64');
  ct[3] ^= 0x01;
  assert.equal(open(k, aad, { ...box, ct: ct.toString('base64') }), undefined, 'a flipped ciphertext byte');
  const tag = Buffer.from(box.tag, 'base64');
  // GCM in node:crypto accepts (and checks only) a shortened tag unless the length is enforced.
  for (const len of [15, 12, 8, 4]) {
    assert.equal(open(k, aad, { ...box, tag: tag.subarray(0, len).toString('base64') }), undefined, `a tag truncated to ${len} bytes`);
  }
  const badIv: SealedBox = { ...box, iv: Buffer.from(box.iv, 'base64').subarray(0, 8).toString('base64') };
  assert.equal(open(k, aad, badIv), undefined, 'a short IV');
  assert.equal(open(k, aad, { ...box, tag: 'not base64 at all!!' }), undefined, 'garbage never throws');
});

test('seal: keyIdOf is a stable public name that differs between keys; sealKeyOf checks the length', () => {
  const a = newSealKey();
  const b = newSealKey();
  assert.equal(keyIdOf(a.bytes), a.id);
  assert.equal(keyIdOf(Buffer.from(a.bytes)), a.id, 'stable: a function of the bytes only');
  assert.notEqual(a.id, b.id);
  assert.match(a.id, /^[0-9a-f]{24}$/);
  assert.ok(!a.bytes.toString('hex').includes(a.id), 'the id is not a slice of K');
  assert.equal(sealKeyOf(Buffer.from(a.bytes))?.id, a.id);
  assert.equal(sealKeyOf(Buffer.alloc(KEY_BYTES - 1)), undefined);
  assert.equal(sealKeyOf(Buffer.alloc(KEY_BYTES + 1)), undefined);
});

// ---------------------------------------------------------------- freshness (P8)

const tokens = (lifetimeMs: number, roundTripMs?: number): TokenSet => ({
  accessToken: 'at', tokenType: 'Bearer', obtainedAt: 1_000_000, expiresAt: 1_000_000 + lifetimeMs, roundTripMs,
});

test('freshness: the margin is never below 1 s plus the round trip, however short the lifetime', () => {
  const policy = new FreshnessPolicy(60_000);
  const short = tokens(3000, 200); // lifetime/4 = 750
  assert.equal(policy.marginMs(short), 1200);
  assert.equal(policy.marginMs(tokens(3000)), 1000, 'no round trip measured: 1 s');
  assert.equal(policy.marginMs(tokens(2000, -50)), 1000, 'a negative round trip does not lower the floor');
  assert.equal(policy.marginMs(tokens(3000, 5000)), 6000, 'a slow IdP raises the floor');
  // At 1.5 s before expiry the token is within its margin: not fresh, though still usable.
  assert.equal(policy.isFresh(short, short.expiresAt - 1500), true);
  assert.equal(policy.isFresh(short, short.expiresAt - 1100), false);
  assert.equal(policy.isUsable(short, short.expiresAt - 1100), true);
});

test('freshness: a long lifetime gets min(skew, lifetime/4); fresh and usable have strict boundaries', () => {
  const policy = new FreshnessPolicy(60_000);
  const hour = tokens(3_600_000, 300);
  assert.equal(policy.marginMs(hour), 60_000);
  assert.equal(policy.marginMs(tokens(120_000, 300)), 30_000, 'lifetime/4 below the skew');
  assert.equal(policy.isFresh(hour, hour.expiresAt - 60_001), true);
  assert.equal(policy.isFresh(hour, hour.expiresAt - 60_000), false, 'exactly at the margin is not fresh');
  assert.equal(policy.remainingMs(hour, hour.expiresAt - 5), 5);
  assert.equal(policy.isUsable(hour, hour.expiresAt - 1), true);
  assert.equal(policy.isUsable(hour, hour.expiresAt), false, 'expired at expiresAt');
  // minValidityMs asks for more than the margin, but at most half the lifetime.
  assert.equal(policy.isFresh(hour, hour.expiresAt - 120_000, 600_000), false);
  assert.equal(policy.isFresh(hour, hour.expiresAt - 600_001, 600_000), true);
  assert.equal(policy.isFresh(hour, hour.expiresAt - 1_800_001, 10 * 3_600_000), true, 'capped at lifetime/2');
  assert.equal(policy.isFresh(hour, hour.expiresAt - 1_799_999, 10 * 3_600_000), false);
});

test('freshness: refreshAt fires before the margin, jittered by at most min(5 s, margin/4)', () => {
  const hour = tokens(3_600_000);
  assert.equal(new FreshnessPolicy(60_000, () => 0).refreshAt(hour), hour.expiresAt - 60_000);
  assert.equal(new FreshnessPolicy(60_000, () => 1).refreshAt(hour), hour.expiresAt - 60_000 - 5000);
  const short = tokens(3000, 200); // margin 1200: jitter at most 300
  assert.equal(new FreshnessPolicy(60_000, () => 1).refreshAt(short), short.expiresAt - 1200 - 300);
  for (const r of [0, 0.25, 0.5, 0.999]) {
    for (const t of [hour, short, tokens(20_000, 50)]) {
      const policy = new FreshnessPolicy(60_000, () => r);
      const margin = policy.marginMs(t);
      const at = policy.refreshAt(t);
      assert.ok(at <= t.expiresAt - margin && at >= t.expiresAt - margin - Math.min(5000, margin / 4), `r=${r} at=${at}`);
      assert.ok(at > t.obtainedAt, 'and never before the token was obtained');
    }
  }
});

// ---------------------------------------------------------------- account state machine

const problem = (message: string, code: Problem['code'] = 'offline'): Problem => ({ code, message });

/** The state without keys set to undefined: what matters, not how it is spelled. */
const plain = (s: AccountState): unknown => JSON.parse(JSON.stringify(s));

function run(start: AccountState, ...inputs: AccountInput[]): AccountState {
  return inputs.reduce(transition, start);
}

test('account state: loading → adopted → active idle; the same generation again changes nothing', () => {
  const loading: AccountState = { kind: 'loading' };
  const active = transition(loading, { type: 'adopted', gen: 3 });
  assert.deepEqual(plain(active), { kind: 'active', gen: 3, activity: { kind: 'idle' } });
  assert.equal(transition(active, { type: 'adopted', gen: 3 }), active, 'same object: no event');
  assert.equal(transition(active, { type: 'idle' }), active);
  assert.equal(statusNameOf(loading), 'signed-out');
  assert.equal(statusNameOf(active), 'signed-in');
  assert.equal(eventOf(loading, active), 'signed-in');
  assert.equal(eventOf(active, transition(active, { type: 'adopted', gen: 3 })), undefined);
});

test('account state: refreshing, following, offline and failed qualify an active account', () => {
  const failed = run({ kind: 'loading' }, { type: 'adopted', gen: 1 }, { type: 'failed', problem: problem('boom', 'idp-rejected') });
  assert.equal(statusNameOf(failed), 'error');
  assert.deepEqual(problemOf(failed), problem('boom', 'idp-rejected'));

  const refreshing = transition(failed, { type: 'refresh-started' });
  assert.deepEqual(plain(refreshing), { kind: 'active', gen: 1, activity: { kind: 'refreshing' } }, 'the error is cleared');
  assert.equal(statusNameOf(refreshing), 'refreshing');
  assert.equal(eventOf(failed, refreshing), 'refreshing');

  const idle = transition(refreshing, { type: 'idle' });
  const following = transition(idle, { type: 'following', pid: 4242 });
  assert.deepEqual(following.kind === 'active' && following.activity, { kind: 'following', pid: 4242 });
  assert.equal(statusNameOf(following), 'refreshing');
  assert.equal(eventOf(idle, following), 'refreshing');
  assert.equal(eventOf(refreshing, following), undefined, 'still busy: no new event');

  const offline = transition(following, { type: 'offline', problem: problem('ECONNREFUSED') });
  assert.equal(offline.kind === 'active' && offline.activity.kind, 'idle');
  assert.equal(statusNameOf(offline), 'offline');
  assert.equal(eventOf(following, offline), 'offline');
  assert.equal(eventOf(offline, transition(offline, { type: 'offline', problem: problem('ECONNREFUSED') })), undefined, 'offline again is no news');

  const next = transition(offline, { type: 'adopted', gen: 2 });
  assert.deepEqual(plain(next), { kind: 'active', gen: 2, activity: { kind: 'idle' } }, 'a new generation clears offline and error');
  assert.equal(eventOf(offline, next), 'refreshed');
});

test('account state: degraded is cleared once persisted, or by a new generation (which the broker re-marks if needed)', () => {
  const active = transition({ kind: 'loading' }, { type: 'adopted', gen: 5 });
  const degraded = transition(active, { type: 'degraded', problem: problem('EACCES', 'degraded') });
  assert.equal(statusNameOf(degraded), 'degraded');
  assert.equal(eventOf(active, degraded), 'degraded');
  assert.deepEqual(problemOf(degraded), problem('EACCES', 'degraded'));
  const persisted = transition(degraded, { type: 'persisted' });
  assert.equal(persisted.kind === 'active' && persisted.degraded, undefined);
  assert.equal(statusNameOf(persisted), 'signed-in');
  assert.equal(eventOf(degraded, persisted), 'refreshed', 'healing from degraded is announced');
  const newer = transition(degraded, { type: 'adopted', gen: 6 });
  assert.deepEqual(plain(newer), { kind: 'active', gen: 6, activity: { kind: 'idle' } }, 'a new generation clears what concerned the old one');
  assert.equal(eventOf(degraded, newer), 'refreshed');
  // Degraded outranks offline and error in the status name and the problem shown.
  const all = run(active, { type: 'failed', problem: problem('e', 'idp-rejected') }, { type: 'offline', problem: problem('o') }, { type: 'degraded', problem: problem('d', 'degraded') });
  assert.equal(statusNameOf(all), 'degraded');
  assert.equal(problemOf(all)?.message, 'd');
  assert.equal(statusNameOf(transition(all, { type: 'persisted' })), 'offline', 'then offline');
});

test('account state: refused is permanent until a sign-in; unreadable heals on adoption', () => {
  const active = run({ kind: 'loading' }, { type: 'adopted', gen: 2 }, { type: 'refresh-started' });
  const refused = transition(active, { type: 'refused', reason: 'invalid_grant' });
  assert.deepEqual(refused, { kind: 'needs-sign-in', reason: 'invalid_grant' });
  assert.equal(statusNameOf(refused), 'needs-sign-in');
  assert.equal(eventOf(active, refused), 'needs-sign-in');
  assert.deepEqual(problemOf(refused), { code: 'needs-sign-in', message: 'invalid_grant' });
  for (const input of [{ type: 'refresh-started' }, { type: 'following', pid: 1 }, { type: 'idle' }, { type: 'offline', problem: problem('x') },
    { type: 'failed', problem: problem('x') }, { type: 'degraded', problem: problem('x') }, { type: 'persisted' }] as AccountInput[]) {
    assert.equal(transition(refused, input), refused, `${input.type} leaves needs-sign-in unchanged`);
  }
  assert.equal(eventOf(refused, transition(refused, { type: 'refused', reason: 'again' })), undefined);
  assert.equal(eventOf(refused, transition(refused, { type: 'adopted', gen: 3 })), 'signed-in', 'a new sign-in');

  const unreadable = transition(active, { type: 'unreadable', problem: problem('forged record', 'corrupt-record') });
  assert.equal(statusNameOf(unreadable), 'error');
  assert.equal(eventOf(active, unreadable), 'error');
  assert.equal(transition(unreadable, { type: 'refresh-started' }), unreadable);
  assert.equal(eventOf(unreadable, transition(unreadable, { type: 'unreadable', problem: problem('forged record', 'corrupt-record') })), undefined, 'the same problem again is no news');
  assert.equal(eventOf(unreadable, transition(unreadable, { type: 'unreadable', problem: problem('key missing', 'key-missing') })), 'error', 'a different problem is');
  const healed = transition(unreadable, { type: 'adopted', gen: 2 });
  assert.equal(healed.kind, 'active');
  assert.equal(statusNameOf(healed), 'signed-in');
  assert.equal(eventOf(unreadable, healed), 'signed-in');

  const out = transition(healed, { type: 'signed-out' });
  assert.deepEqual(out, { kind: 'signed-out' });
  assert.equal(statusNameOf(out), 'signed-out');
  assert.equal(eventOf(healed, out), 'signed-out');
  assert.equal(eventOf(out, transition(out, { type: 'signed-out' })), undefined);
  assert.equal(transition(out, { type: 'offline', problem: problem('x') }), out, 'signed out stays signed out');
  assert.equal(problemOf(out), undefined);
  assert.equal(eventOf({ kind: 'signed-out' }, { kind: 'loading' }), undefined);
});

// ---------------------------------------------------------------- single flight

test('single flight: concurrent runs with one key share one call; other keys and later runs call again', async () => {
  const flight = new SingleFlight<string, number>();
  let calls = 0;
  const gates: Array<(v: number) => void> = [];
  const work = () => { calls++; return new Promise<number>((resolve) => gates.push(resolve)); };
  const a1 = flight.run('a', work);
  const a2 = flight.run('a', work);
  assert.equal(a1, a2, 'the same promise');
  const b = flight.run('b', work);
  assert.equal(calls, 2);
  assert.equal(flight.size, 2);
  gates[0](1);
  gates[1](2);
  assert.deepEqual(await Promise.all([a1, a2, b]), [1, 1, 2]);
  assert.equal(flight.size, 0, 'settled flights are forgotten');
  const a3 = flight.run('a', work);
  assert.equal(calls, 3, 'after settling, a new call runs');
  gates[2](3);
  assert.equal(await a3, 3);
  // A rejected flight is forgotten too, and its rejection reaches every caller.
  const failing = () => { calls++; return Promise.reject(new Error('nope')); };
  await Promise.all([assert.rejects(flight.run('c', failing), /nope/), assert.rejects(flight.run('c', failing), /nope/)]);
  assert.equal(calls, 4);
  assert.equal(flight.size, 0);
});

// ---------------------------------------------------------------- deadlines under frozen time (P8)

/** elapsed() uses unref'd timers: a test awaiting only them needs something keeping the loop alive. */
async function keepingAlive<T>(work: () => Promise<T>): Promise<T> {
  const alive = setInterval(() => undefined, 1000);
  try {
    return await work();
  } finally {
    clearInterval(alive);
  }
}

function blockEventLoop(ms: number): void {
  const start = performance.now();
  while (performance.now() - start < ms) { /* frozen */ }
}

test('deadline: elapsed resolves after its time; within times out a promise that never settles', async () => {
  await keepingAlive(async () => {
    let t = performance.now();
    await elapsed(80);
    assert.ok(performance.now() - t >= 75, 'elapsed waited');
    t = performance.now();
    assert.equal(await within(new Promise(() => {}), 250), TIMED_OUT);
    const took = performance.now() - t;
    assert.ok(took >= 240 && took < 1500, `timed out after about 250 ms (${Math.round(took)})`);
    assert.equal(await within(Promise.resolve('v'), 250), 'v');
    await assert.rejects(within(Promise.reject(new Error('refused')), 250), /refused/, 'a rejection passes through');
  });
});

test('deadline: an answer that arrived while the process was frozen beats the overdue timer', async () => {
  // The server is another process, so its answer is written while this one is blocked.
  const server = spawn(process.execPath, ['-e', `
    const net = require('node:net');
    const s = net.createServer((c) => setTimeout(() => c.end('x'), 150));
    s.listen(0, '127.0.0.1', () => process.stdout.write(s.address().port + '\\n'));
    process.stdin.on('end', () => process.exit(0)).resume();
  `], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const [chunk] = await once(server.stdout!, 'data');
    const port = Number(String(chunk).trim());
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const answer = new Promise<string>((resolve) => socket.once('data', (b) => resolve(String(b))));
    const guarded = within(answer, 300);
    // Control: a plain timer race, which is what within() must not behave like.
    const plain = Promise.race([answer, new Promise<typeof TIMED_OUT>((resolve) => setTimeout(() => resolve(TIMED_OUT), 300))]);
    blockEventLoop(1200); // frozen: the answer is written meanwhile and waits in the socket
    assert.equal(await plain, TIMED_OUT, 'the scenario is a real freeze: a plain timer fires before the waiting I/O');
    assert.equal(await guarded, 'x', 'within() gives the waiting answer its moment');
    socket.destroy();
  } finally {
    server.stdin!.end();
    if (server.exitCode === null) await once(server, 'exit');
  }
});
