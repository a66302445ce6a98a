// Small pieces whose contracts the broker relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, type GenerationRecord } from '../../src/core/journal.ts';
import { Redactor, redactingLogger } from '../../src/core/redact.ts';
import { backoffDelay } from '../../src/core/backoff.ts';
import { parseCredentials } from '../../src/core/credentials.ts';
import { fingerprint } from '../../src/core/fingerprint.ts';
import { tryLock } from '../../src/core/refreshLock.ts';
import { silentLogger } from '../../src/core/redact.ts';

const record = (gen: number): GenerationRecord => ({ v: 1, gen, state: 'active', writer: { pid: 1, id: 'w' }, at: 0 });

test('journal: a generation and a spend claim can each be created exactly once', async () => {
  const journal = await Journal.open(mkdtempSync(join(tmpdir(), 'tokenrelay-journal-')));
  const writes = await Promise.all(Array.from({ length: 20 }, () => journal.write(record(1))));
  assert.equal(writes.filter(Boolean).length, 1);
  const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => journal.claimSpend(1, { pid: i, id: `p${i}` })));
  assert.equal(claims.filter((c) => c === 'claimed').length, 1);
  const loser = claims.find((c) => c !== 'claimed');
  assert.ok(typeof loser === 'object' && typeof loser.owner.pid === 'number', 'losers learn who owns the claim');
  await journal.releaseSpend(1);
  assert.equal(await journal.claimSpend(1, { pid: 99, id: 'again' }), 'claimed');
  assert.equal((await journal.latest())?.gen, 1);
  await journal.write(record(12));
  assert.equal((await journal.latest())?.gen, 12, 'generations sort numerically');
});

test('journal: taking the lock and registering siblings change nothing every process watches', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-journal-'));
  const journal = await Journal.open(dir);
  const seen: string[] = [];
  const watcher = watch(dir, (_type, name) => seen.push(String(name)));
  try {
    const lock = await tryLock(journal.lockTarget, 2000, silentLogger);
    assert.ok(lock, 'the lock was free');
    await journal.registerPeer('sibling', '/tmp/sibling.sock');
    assert.deepEqual((await journal.peers()).map((p) => p.id), ['sibling']);
    await journal.unregisterPeer('sibling');
    await lock.release();
    await journal.writeStatus({}); // a change that is watched: events arrive in order, so this one comes last
    for (let i = 0; !seen.includes('status.json') && i < 100; i++) await new Promise((r) => watcher.once('change', r));
    assert.deepEqual(seen, ['status.json']);
  } finally {
    watcher.close();
  }
});

test('journal: old generations are pruned after a write, once the storm that wrote them is over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-journal-'));
  const journal = await Journal.open(dir);
  for (let gen = 1; gen <= 12; gen++) await journal.write(record(gen));
  const first = join(dir, 'g-000000000001.json');
  assert.ok(existsSync(first), 'not pruned on the critical path');
  const deadline = Date.now() + 10_000;
  const watcher = watch(dir);
  try {
    while (existsSync(first) && Date.now() < deadline) await new Promise((r) => { const t = setTimeout(r, 500); watcher.once('change', () => { clearTimeout(t); r(undefined); }); });
  } finally {
    watcher.close();
  }
  assert.ok(!existsSync(first), 'generation 1 pruned');
  assert.ok(existsSync(join(dir, 'g-000000000012.json')) && existsSync(join(dir, 'g-000000000005.json')), 'the newest eight kept');
  assert.equal((await journal.latest())?.gen, 12);
});

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
