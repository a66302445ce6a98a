// The pieces that live in a slot directory: durable files, the private directories, the sealed
// store, spend claims, the refresh lock (P6 ownership), the lock waiter, the shared status and the
// v1 (legacy) records. Each test works in its own temp directory, removed afterwards.
import { waitFor } from '../support/wait.ts';
import { ownStartTime } from '../../src/core/processIdentity.ts';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync,
  readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createExclusive, replaceDurable } from '../../src/core/durableFile.ts';
import { checkPrivateDir, ensurePrivateDir } from '../../src/core/slotDir.ts';
import { SealedStore, isActive, peekSlotState, type Generation, type SlotState } from '../../src/core/sealedStore.ts';
import { newSealKey } from '../../src/core/seal.ts';
import { SpendClaims, processAlive } from '../../src/core/spendClaim.ts';
import { tryLock } from '../../src/core/refreshLock.ts';
import { LockWaiter } from '../../src/core/lockWait.ts';
import { SharedStatus } from '../../src/core/sharedStatus.ts';
import { latestLegacyRecord, legacyName, legacySession } from '../../src/core/legacy.ts';
import { serializeCredentials, type Credentials } from '../../src/core/credentials.ts';
import { fingerprint } from '../../src/core/fingerprint.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/redact.ts';

const made: string[] = [];
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-unit-'));
  made.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

const until = (what: string, cond: () => boolean, ms = 6000) => waitFor(what, ms, cond, 50);

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  assert.equal(child.status, 0);
  assert.ok(!processAlive(child.pid!), 'the child has exited');
  return child.pid!;
}

// ---------------------------------------------------------------- durable files

test('durableFile: createExclusive creates once, refuses an existing name, and leaves no temp file', () => {
  const dir = tmp();
  const temp = join(dir, '.tmp');
  mkdirSync(temp);
  assert.equal(createExclusive(dir, temp, 'spend-1', 'first'), true);
  assert.equal(createExclusive(dir, temp, 'spend-1', 'second'), false);
  assert.equal(readFileSync(join(dir, 'spend-1'), 'utf8'), 'first', 'the first content stays');
  assert.equal(mode(join(dir, 'spend-1')), 0o600);
  assert.deepEqual(readdirSync(temp), [], 'no temp file left behind, after success or refusal');
  assert.throws(() => createExclusive(join(dir, 'missing'), temp, 'x', 'y'), { code: 'ENOENT' }, 'other errors are raised');
  assert.deepEqual(readdirSync(temp), []);
});

test('durableFile: replaceDurable swaps the whole file in one rename', () => {
  const dir = tmp();
  const temp = join(dir, '.tmp');
  mkdirSync(temp);
  const path = join(dir, 'status.json');
  replaceDurable(dir, temp, 'status.json', 'old content');
  const before = statSync(path).ino;
  const reader = openSync(path, 'r'); // a reader that opened the old file keeps reading all of it
  try {
    replaceDurable(dir, temp, 'status.json', 'new');
    const buf = Buffer.alloc(64);
    assert.equal(buf.subarray(0, readSync(reader, buf, 0, 64, 0)).toString(), 'old content', 'not rewritten in place');
  } finally {
    closeSync(reader);
  }
  assert.equal(readFileSync(path, 'utf8'), 'new');
  assert.notEqual(statSync(path).ino, before, 'a new inode renamed over the old name');
  assert.equal(mode(path), 0o600);
  assert.deepEqual(readdirSync(temp), []);
  mkdirSync(join(dir, 'busy'));
  writeFileSync(join(dir, 'busy', 'f'), '');
  assert.throws(() => replaceDurable(dir, temp, 'busy', 'x'), 'a failed rename is raised');
  assert.deepEqual(readdirSync(temp), [], 'and its temp file removed');
});

// ---------------------------------------------------------------- private directories

test('slotDir: our own directory with group/other bits is repaired to 0700; a missing one is created 0700', () => {
  const base = tmp();
  const loose = join(base, 'loose');
  mkdirSync(loose);
  chmodSync(loose, 0o777);
  ensurePrivateDir(loose);
  assert.equal(mode(loose), 0o700);
  chmodSync(loose, 0o755);
  checkPrivateDir(loose);
  assert.equal(mode(loose), 0o700);
  const fresh = join(base, 'a', 'b');
  ensurePrivateDir(fresh);
  assert.equal(mode(fresh), 0o700);
  assert.equal(mode(join(base, 'a')), 0o700, 'parents too');
});

test('slotDir: a symlink or a file in place of the directory is refused with the fix', () => {
  const base = tmp();
  const real = join(base, 'real');
  mkdirSync(real, { mode: 0o700 });
  const link = join(base, 'slot');
  symlinkSync(real, link);
  const refused = (err: unknown) => {
    assert.ok(err instanceof TokenRelayError);
    assert.equal(err.code, 'lock-dir');
    assert.match(err.message, /slot directory .*slot is not a plain directory \(a symlink or a file is in its place\)/);
    assert.match(err.message, /Remove it so Token Relay can recreate it/);
    return true;
  };
  assert.throws(() => ensurePrivateDir(link), refused);
  writeFileSync(join(base, 'file'), '');
  assert.throws(() => checkPrivateDir(join(base, 'file'), 'lock directory'), (err: unknown) => {
    assert.ok(err instanceof TokenRelayError && err.code === 'lock-dir');
    assert.match(err.message, /lock directory .* is not a plain directory/);
    return true;
  });
});

test('slotDir: a directory owned by another user is refused, not repaired', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, () => {
  const base = tmp();
  const planted = join(base, 'planted');
  mkdirSync(planted);
  chmodSync(planted, 0o777);
  chownSync(planted, 65534, 65534);
  assert.throws(() => ensurePrivateDir(planted), (err: unknown) => {
    assert.ok(err instanceof TokenRelayError);
    assert.equal(err.code, 'lock-dir');
    assert.match(err.message, /belongs to another user \(uid 65534\)/);
    assert.match(err.message, /Remove it \(it may have been planted\)/);
    return true;
  });
  assert.equal(mode(planted), 0o777, 'its mode was not touched');
});

// ---------------------------------------------------------------- sealed store

const generation = (gen: number, state: SlotState = 'active'): Generation => ({
  gen,
  state,
  ...(state === 'active' ? {
    account: { id: 'alice', label: 'Alice' },
    tokens: { accessToken: `at-${gen}`, refreshToken: `rt-${gen}`, tokenType: 'Bearer', expiresAt: 2_000_000, obtainedAt: 1_000_000 },
  } : { reason: 'invalid_grant' }),
  writer: { pid: process.pid, id: 'writer', label: 'test' },
  at: 1234,
});
const file = (store: SealedStore, gen: number) => join(store.dir, `g-${String(gen).padStart(12, '0')}.sealed`);
const unreadable = (r: ReturnType<SealedStore['read']>) => ('unreadable' in r ? r.unreadable : assert.fail('the record was readable'));

test('sealed store: a generation is written once, read back whole, and sealed (no token in the file)', () => {
  const key = newSealKey();
  const store = SealedStore.open(join(tmp(), 'slot'), 'slot-1');
  assert.equal(store.latestGen(), 0);
  assert.equal(store.write(generation(1), key), true);
  assert.deepEqual(store.read(1, key), { generation: generation(1) });
  assert.ok(isActive((store.read(1, key) as { generation: Generation }).generation));
  const raw = readFileSync(file(store, 1), 'utf8');
  assert.ok(!raw.includes('rt-1') && !raw.includes('at-1') && !raw.includes('alice'), 'the body is sealed');
  assert.equal(JSON.parse(raw).state, 'active', 'the state is readable without K');
  assert.equal(store.write({ ...generation(1), writer: { pid: 1, id: 'late' } }, key), false, 'a generation can be created only once');
  assert.equal((store.read(1, key) as { generation: Generation }).generation.writer.id, 'writer', 'the first write stands');
  store.write(generation(2, 'needs-sign-in'), key);
  store.write(generation(10), key);
  assert.equal(store.latestGen(), 10);
  assert.deepEqual(store.generations(), [10, 2, 1], 'numeric order, newest first');
  assert.equal(isActive((store.read(2, key) as { generation: Generation }).generation), false);
  assert.match(unreadable(store.read(3, key)), /generation 3 cannot be read \(ENOENT\)/);
});

test('sealed store: files are 0600 and the slot directory and its subfolders 0700', () => {
  const store = SealedStore.open(join(tmp(), 'slot'), 'slot-1');
  const key = newSealKey();
  store.write(generation(1), key);
  assert.equal(store.createKeyId(key.id), true);
  for (const d of [store.dir, store.tempDir, store.lockDir, store.peersDir]) assert.equal(mode(d), 0o700, d);
  assert.equal(mode(file(store, 1)), 0o600);
  assert.equal(mode(join(store.dir, 'key-id')), 0o600);
  assert.deepEqual(readdirSync(store.tempDir), [], 'nothing left in .tmp');
});

test('sealed store: a record copied from another slot, renamed, or with an edited state does not authenticate', () => {
  const key = newSealKey();
  const base = tmp();
  const a = SealedStore.open(join(base, 'a'), 'slot-a');
  const b = SealedStore.open(join(base, 'b'), 'slot-b');
  a.write(generation(4), key);
  copyFileSync(file(a, 4), file(b, 4));
  assert.match(unreadable(b.read(4, key)), /generation 4 does not authenticate under this slot's key/, 'moved to another slot');

  renameSync(file(a, 4), file(a, 5));
  assert.match(unreadable(a.read(5, key)), /generation 5 is not a sealed record of this layout/, 'the envelope names generation 4');
  const envelope = JSON.parse(readFileSync(file(a, 5), 'utf8'));
  writeFileSync(file(a, 5), JSON.stringify({ ...envelope, gen: 5 }));
  assert.match(unreadable(a.read(5, key)), /does not authenticate/, 'replayed as another generation, envelope edited too');

  writeFileSync(file(a, 5), JSON.stringify({ ...envelope, state: 'signed-out' }));
  renameSync(file(a, 5), file(a, 4));
  assert.equal(peekSlotState(a.dir), 'signed-out', 'the peek is a hint only...');
  assert.match(unreadable(a.read(4, key)), /does not authenticate/, '...the state is authenticated when opened');
});

test('sealed store: truncated, foreign-key and other-layout records are unreadable with a reason', () => {
  const key = newSealKey();
  const store = SealedStore.open(join(tmp(), 'slot'), 'slot-1');
  store.write(generation(1), key);
  store.write(generation(2), key);
  const raw = readFileSync(file(store, 1), 'utf8');
  writeFileSync(file(store, 1), raw.slice(0, raw.length / 2));
  assert.match(unreadable(store.read(1, key)), /generation 1 is truncated/);
  const other = newSealKey();
  assert.match(unreadable(store.read(2, other)), new RegExp(`generation 2 is sealed under another key \\(${key.id}\\)`));
  writeFileSync(file(store, 1), JSON.stringify({ v: 1, gen: 1, state: 'active' }));
  assert.match(unreadable(store.read(1, key)), /not a sealed record of this layout/);
  // Sealed with a different K that claims this K's id: the id check passes, authentication does not.
  const forged = SealedStore.open(join(tmp(), 'slot'), 'slot-1');
  forged.write(generation(1), { id: key.id, bytes: other.bytes });
  assert.match(unreadable(forged.read(1, key)), /does not authenticate/);
});

test('sealed store: peekSlotState reads the newest envelope state without K', () => {
  const key = newSealKey();
  const base = tmp();
  assert.equal(peekSlotState(join(base, 'missing')), undefined);
  const store = SealedStore.open(join(base, 'slot'), 'slot-1');
  assert.equal(peekSlotState(store.dir), undefined, 'no generation yet');
  store.write(generation(1), key);
  assert.equal(peekSlotState(store.dir), 'active');
  store.write(generation(2, 'needs-sign-in'), key);
  assert.equal(peekSlotState(store.dir), 'needs-sign-in');
  store.write(generation(10, 'signed-out'), key);
  assert.equal(peekSlotState(store.dir), 'signed-out', 'numerically newest');
  writeFileSync(file(store, 11), '{"state":"owned"}');
  assert.equal(peekSlotState(store.dir), undefined, 'an unknown state is no hint');
});

test('sealed store: the key id is recorded once; a different K is refused unless replaced', () => {
  const store = SealedStore.open(join(tmp(), 'slot'), 'slot-1');
  const [k1, k2] = [newSealKey(), newSealKey()];
  assert.equal(store.readKeyId(), undefined);
  assert.equal(store.createKeyId(k1.id), true);
  assert.equal(store.createKeyId(k1.id), true, 'the same K again is fine');
  assert.equal(store.createKeyId(k2.id), false, 'another K was recorded first');
  assert.equal(store.readKeyId(), k1.id);
  store.replaceKeyId(k2.id);
  assert.equal(store.readKeyId(), k2.id);
  assert.ok(!readFileSync(join(store.dir, 'key-id'), 'utf8').includes(k2.bytes.toString('hex')), 'only the id, never K');
});

test('sealed store: old generations and their claims are pruned after a write, off the critical path', async () => {
  const key = newSealKey();
  const store = SealedStore.open(join(tmp(), 'slot'), 'slot-1');
  for (let gen = 1; gen <= 12; gen++) {
    writeFileSync(join(store.dir, `spend-${gen}`), '{}');
    store.write(generation(gen), key);
  }
  writeFileSync(join(store.dir, 'spend-2.1'), '{}');
  assert.ok(existsSync(file(store, 1)), 'not pruned during the write');
  await until('generation 1 to be pruned', () => !existsSync(file(store, 1)));
  const left = store.generations();
  for (let gen = 5; gen <= 12; gen++) assert.ok(left.includes(gen), `generation ${gen} kept (the newest eight)`);
  for (const gen of [1, 2, 3, 4]) assert.ok(!left.includes(gen), `generation ${gen} pruned`);
  assert.ok(!existsSync(join(store.dir, 'spend-1')) && !existsSync(join(store.dir, 'spend-2.1')), 'old claims pruned too');
  assert.ok(existsSync(join(store.dir, 'spend-12')));
  assert.equal((store.read(12, key) as { generation: Generation }).generation.gen, 12);
});

// ---------------------------------------------------------------- spend claims

function claimsIn(): { claims: SpendClaims; dir: string } {
  const dir = tmp();
  mkdirSync(join(dir, '.tmp'));
  return { claims: new SpendClaims(dir, join(dir, '.tmp')), dir };
}
const me = { pid: process.pid, id: 'me' };
const sibling = { pid: process.pid, id: 'sibling' };

test('spend claims: the first claim wins; a second writer sees it live while its owner runs', () => {
  const { claims } = claimsIn();
  assert.equal(claims.inspect(5), undefined);
  assert.deepEqual(claims.claim(5, me, 100), { kind: 'claimed', claim: { gen: 5, seq: 0, owner: me, at: 100 } });
  const second = claims.claim(5, sibling, 200);
  assert.equal(second.kind, 'live');
  assert.deepEqual(second.claim, { gen: 5, seq: 0, owner: me, at: 100 }, 'the loser learns who owns the claim and when it was sent');
  assert.equal(claims.claim(5, me, 300).kind, 'claimed', 'its owner asking again still holds it');
  assert.equal(claims.claim(6, sibling, 0).kind, 'claimed', 'another generation is its own claim');
});

test('spend claims: a dead owner\'s claim is dead; one retry claim follows it, exclusively', () => {
  const { claims, dir } = claimsIn();
  const ghost = { pid: deadPid(), id: 'ghost' };
  assert.equal(claims.claim(7, ghost, 1000).kind, 'claimed');
  const seen = claims.claim(7, me, 2000);
  assert.equal(seen.kind, 'dead');
  assert.ok(seen.kind === 'dead');
  assert.deepEqual(seen.claim, { gen: 7, seq: 0, owner: ghost, at: 1000 });
  assert.deepEqual(seen.first, seen.claim, 'first is the seq-0 claim');

  assert.deepEqual(claims.retry(7, seen.claim, me, 3000), { kind: 'claimed', claim: { gen: 7, seq: 1, owner: me, at: 3000 } });
  assert.ok(existsSync(join(dir, 'spend-7.1')));
  const late = claims.retry(7, seen.claim, sibling, 3500);
  assert.deepEqual(late, { kind: 'live', claim: { gen: 7, seq: 1, owner: me, at: 3000 } }, 'a second retry after the same dead claim does not claim');
  assert.equal(claims.retry(7, seen.claim, me, 4000).kind, 'claimed', 'the retry\'s owner still holds it');
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('spend-7') && !n.endsWith('.unsent')).sort(), ['spend-7', 'spend-7.1'], 'no third claim');
});

test('spend claims: a claim counts as never sent until its claimer marks it; a legacy claim always counts as sent', () => {
  const { claims, dir } = claimsIn();
  const [ghost1, ghost2] = [{ pid: deadPid(), id: 'g1' }, { pid: deadPid(), id: 'g2' }];
  assert.equal(claims.neverSent(3), false, 'no claim at all is not "never sent"');
  const first = claims.claim(3, ghost1, 10);
  assert.ok(first.kind === 'claimed');
  assert.ok(existsSync(join(dir, 'spend-3.unsent')));
  assert.equal(claims.neverSent(3), true, 'claimed, not marked');
  const dead = claims.claim(3, ghost2, 20);
  assert.ok(dead.kind === 'dead');
  const retry = claims.retry(3, dead.claim, ghost2, 30);
  assert.ok(retry.kind === 'claimed');
  assert.equal(claims.neverSent(3), true, 'neither the claim nor its retry was marked');
  claims.markSent(retry.claim);
  assert.ok(!existsSync(join(dir, 'spend-3.1.unsent')));
  assert.equal(claims.neverSent(3), false, 'the retry was marked: the token may be spent');
  claims.markSent(retry.claim); // idempotent

  claims.claim(4, ghost1, 10);
  claims.markSent({ gen: 4, seq: 0, owner: ghost1, at: 10 });
  assert.equal(claims.neverSent(4), false, 'the first claim was marked, so a retry is not "never sent"');

  writeFileSync(join(dir, 'spend-5'), JSON.stringify({ gen: 5, seq: 0, owner: ghost1, at: 10 })); // a version that does not mark
  assert.equal(claims.neverSent(5), false, 'a claim without its companion counts as sent');
  writeFileSync(join(dir, 'spend-6'), 'garbage');
  writeFileSync(join(dir, 'spend-6.unsent'), '');
  assert.equal(claims.neverSent(6), false, 'an unreadable claim counts as sent');

  claims.release(3);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('spend-3')), [], 'release removes the claims and their companions');
});

test('spend claims: a live pid that started at another time is not the claimer (pid reuse)', () => {
  const { claims } = claimsIn();
  const reused = { pid: process.pid, id: 'before-reuse', startedAt: '1' }; // this pid, but an earlier process
  claims.claim(9, reused, 10);
  assert.equal(claims.claim(9, sibling, 20).kind, 'dead');
  const same = { pid: process.pid, id: 'this-process', startedAt: ownStartTime() };
  claims.claim(10, same, 10);
  assert.equal(claims.claim(10, sibling, 20).kind, 'live', 'the same pid with its own start time is alive');
});

test('spend claims: after a dead retry, first is still the generation\'s seq-0 claim', () => {
  const { claims } = claimsIn();
  const [ghost1, ghost2] = [{ pid: deadPid(), id: 'g1' }, { pid: deadPid(), id: 'g2' }];
  claims.claim(8, ghost1, 10);
  const dead0 = claims.claim(8, ghost2, 20);
  assert.ok(dead0.kind === 'dead');
  assert.equal(claims.retry(8, dead0.claim, ghost2, 30).kind, 'claimed');
  const dead1 = claims.inspect(8, me);
  assert.ok(dead1?.kind === 'dead', 'the retry\'s owner died too');
  assert.deepEqual(dead1.claim, { gen: 8, seq: 1, owner: ghost2, at: 30 });
  assert.deepEqual(dead1.first, { gen: 8, seq: 0, owner: ghost1, at: 10 }, 'when the token was first presented');
  assert.deepEqual(claims.retry(8, dead1.claim, me, 40), { kind: 'claimed', claim: { gen: 8, seq: 2, owner: me, at: 40 } });
});

test('spend claims: an unreadable claim counts as dead, with pid 0, and is never retaken as seq 0', () => {
  const { claims, dir } = claimsIn();
  writeFileSync(join(dir, 'spend-9'), '{"owner":');
  const seen = claims.claim(9, me, 1);
  assert.ok(seen.kind === 'dead');
  assert.equal(seen.claim.owner.pid, 0);
  assert.equal(seen.claim.at, 0);
  assert.equal(seen.first.owner.pid, 0);
  writeFileSync(join(dir, 'spend-10'), JSON.stringify({ owner: { pid: 'x' } }));
  assert.equal(claims.inspect(10)?.kind, 'dead', 'a claim of the wrong shape too');
  assert.equal(processAlive(0), false);
  assert.equal(processAlive(-1), false);
  assert.equal(processAlive(process.pid), true);
});

test('spend claims: release removes every claim of the generation, and only of it', () => {
  const { claims, dir } = claimsIn();
  const ghost = { pid: deadPid(), id: 'ghost' };
  claims.claim(6, ghost, 1);
  claims.retry(6, { gen: 6, seq: 0, owner: ghost, at: 1 }, me, 2);
  claims.claim(60, me, 3);
  claims.claim(612, me, 3); // 'spend-612' is not a retry claim 'spend-6' + '12' of generation 6
  claims.release(6);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('spend-')).sort(), ['spend-60', 'spend-60.unsent', 'spend-612', 'spend-612.unsent']);
  assert.equal(claims.inspect(6), undefined, 'no claim of generation 6 is left (nor read into spend-612)');
  assert.equal(claims.claim(6, sibling, 4).kind, 'claimed', 'the generation can be claimed afresh');
  claims.release(99); // nothing to release: no error
});

// ---------------------------------------------------------------- refresh lock (P6)

const lockPath = (lockDir: string) => join(lockDir, 'refresh.lock');
const warnings: string[] = [];
const log = { ...silentLogger, warn: (m: string) => warnings.push(m) };

test('refresh lock: held once at a time, free again after release; a missing lock directory is "not acquired"', async () => {
  const lockDir = tmp();
  const a = await tryLock(lockDir, 2000, log);
  assert.ok(a, 'the lock was free');
  assert.equal(await tryLock(lockDir, 2000, log), undefined, 'held');
  assert.equal(mode(lockPath(lockDir)), 0o700, 'the lock directory is private, whatever the umask');
  assert.equal(a.compromised, false);
  await a.release();
  assert.ok(!existsSync(lockPath(lockDir)), 'release removes the lock');
  const b = await tryLock(lockDir, 2000, log);
  assert.ok(b, 'free again');
  await b.release();
  assert.equal(await tryLock(join(lockDir, 'gone'), 2000, log), undefined, 'ENOENT means not acquired, not an error');
});

test('refresh lock: an overtaken holder\'s release never removes the new holder\'s lock (P6)', async () => {
  const lockDir = tmp();
  const a = await tryLock(lockDir, 2000, log);
  assert.ok(a);
  // A freezes: its heartbeat stops and the lock looks 10 s old to everyone else.
  const past = new Date(Date.now() - 10_000);
  utimesSync(lockPath(lockDir), past, past);
  const b = await tryLock(lockDir, 2000, log);
  assert.ok(b, 'B takes the stale lock over');
  await a.release(); // A wakes up and releases what it believes is its lock
  assert.ok(existsSync(lockPath(lockDir)), 'B\'s lock is still in place');
  assert.equal(await tryLock(lockDir, 2000, log), undefined, 'and still held');
  assert.equal(b.compromised, false);
  await b.release();
  assert.ok(!existsSync(lockPath(lockDir)), 'B\'s own release removes it');
});

test('refresh lock: after a stall marks the lock lost, releasing it frees it for others', async () => {
  const lockDir = tmp();
  const a = await tryLock(lockDir, 2000, log);
  assert.ok(a);
  const start = performance.now();
  while (performance.now() - start < 1300) { /* stalled past stale - heartbeat */ }
  await until('the stall to be noticed', () => a.compromised, 2000);
  await a.release();
  // Nobody took the lock over during the stall, so it is still this process's: freed now, or at
  // the latest once it goes stale (2 s).
  let b: Awaited<ReturnType<typeof tryLock>>;
  const deadline = performance.now() + 3200;
  while (!(b = await tryLock(lockDir, 2000, log)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(b, 'the lock became free');
  await b.release();
});

// ---------------------------------------------------------------- lock waiter

test('lock waiter: an event since the mark ends the wait at once; acquire stops when the wait is moot', async () => {
  const lockDir = tmp();
  const waiter = new LockWaiter(lockDir, 2000, silentLogger);
  const since = waiter.mark();
  waiter.notify(); // arrives while the caller is busy, before it waits
  const t = performance.now();
  await waiter.nextEvent(5000, since);
  assert.ok(performance.now() - t < 1000, 'not missed');

  const held = await tryLock(lockDir, 2000, silentLogger);
  assert.ok(held);
  let advanced = false;
  const outcome = waiter.acquire(() => advanced, 10_000);
  setTimeout(() => { advanced = true; waiter.notify(); }, 50);
  assert.deepEqual(await outcome, { advanced: true }, 'a store event that makes the wait moot ends it');
  const got = waiter.acquire(() => false, 10_000);
  await held.release();
  waiter.notify();
  const second = await got;
  assert.ok('lock' in second, 'takes the lock once it is released');
  await second.lock.release();
  const blocker = await tryLock(lockDir, 2000, silentLogger);
  assert.ok(blocker);
  await assert.rejects(waiter.acquire(() => false, 300), (err: unknown) => err instanceof TokenRelayError && err.code === 'timeout');
  await blocker.release();
});

// ---------------------------------------------------------------- shared status

test('shared status: written durably, scoped to its generation, cleared only when there was a failure', () => {
  const dir = tmp();
  mkdirSync(join(dir, '.tmp'));
  const status = new SharedStatus(dir, join(dir, '.tmp'));
  assert.deepEqual(status.read(), {});
  status.write({ gen: 4, offlineUntil: 5000, failures: 2, lastError: 'ECONNREFUSED' });
  assert.equal(status.read(4).failures, 2);
  assert.equal(status.read(3).failures, 2, 'still news to an older generation');
  assert.deepEqual(status.read(5), {}, 'a newer generation makes it history');
  assert.equal(mode(join(dir, 'status.json')), 0o600);
  status.clear();
  assert.deepEqual(status.read(), {});
  const ino = statSync(join(dir, 'status.json')).ino;
  status.clear();
  assert.equal(statSync(join(dir, 'status.json')).ino, ino, 'nothing to clear: no write (every window watches this file)');
  writeFileSync(join(dir, 'status.json'), '{"gen":');
  assert.deepEqual(status.read(1), {}, 'unreadable: no back-off');
});

// ---------------------------------------------------------------- legacy (v1) sessions

const credentials = (gen: number, refreshToken = `rt-${gen}`): Credentials => ({
  v: 1, gen, account: { id: 'alice', label: 'Alice' },
  tokens: { accessToken: `at-${gen}`, refreshToken, tokenType: 'Bearer', expiresAt: 2, obtainedAt: 1 },
});

test('legacy: a v1 session is upgraded only when the v1 journal says it is current', () => {
  const dir = tmp();
  assert.equal(legacySession(dir, undefined), undefined, 'nothing stored');
  const corrupt = legacySession(dir, 'nope');
  assert.ok(corrupt && 'corrupt' in corrupt && corrupt.corrupt.code === 'corrupt-secret');
  assert.deepEqual(legacySession(dir, serializeCredentials(credentials(3))), { credentials: credentials(3), journalGen: 3 }, 'from before the v1 journal');

  writeFileSync(join(dir, legacyName(3)), JSON.stringify({ v: 1, gen: 3, state: 'active', refreshFp: fingerprint('rt-3') }));
  assert.deepEqual(legacySession(dir, serializeCredentials(credentials(3))), { credentials: credentials(3), journalGen: 3 });
  assert.equal(legacySession(dir, serializeCredentials(credentials(3, 'rt-other'))), undefined, 'another refresh token than the journal\'s');
  assert.equal(legacySession(dir, serializeCredentials(credentials(2))), undefined, 'a stale view');
  writeFileSync(join(dir, legacyName(4)), JSON.stringify({ v: 1, gen: 4, state: 'signed-out' }));
  assert.equal(legacySession(dir, serializeCredentials(credentials(4))), undefined, 'signed out in v1');
  writeFileSync(join(dir, legacyName(12)), '{"v":1,');
  assert.equal(latestLegacyRecord(dir)?.gen, 4, 'an unreadable newest record is skipped');
  writeFileSync(join(dir, 'g-000000000013.sealed'), '{}');
  assert.equal(latestLegacyRecord(dir)?.gen, 4, 'v2 records are not v1 records');
});
