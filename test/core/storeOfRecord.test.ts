// The slot directory as the store of record: sealed under K, trusted only after checks, and
// immune to stale secret views. Brokers here share one process but nothing else: each has its
// own secret view (code-server-like snapshots of one file).
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, type BrokerOptions } from '../../src/core/broker.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { fingerprint } from '../../src/core/fingerprint.ts';
import { silentLogger } from '../../src/core/redact.ts';
import { serializeCredentials } from '../../src/core/credentials.ts';
import type { Logger, RefreshClient, TokenSet } from '../../src/core/types.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';
import { SnapshotStore } from '../harness/stores.ts';

const dirs: string[] = [];
const open: Broker[] = [];
// Watches, sockets and timers are unref'd on purpose (they never keep a host alive); the test process is kept alive here.
let alive: NodeJS.Timeout | undefined;
beforeEach(() => { alive = setInterval(() => undefined, 1000); });
afterEach(async () => {
  clearInterval(alive);
  for (const b of open.splice(0)) await b.dispose();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const temp = (name: string) => { const d = mkdtempSync(join(tmpdir(), `tokenrelay-${name}-`)); dirs.push(d); return d; };

let issued = 0;
const tokens = (): TokenSet => {
  const n = ++issued;
  return { accessToken: `access-${n}-${'x'.repeat(40)}`, refreshToken: `refresh-${n}-${'y'.repeat(40)}`, tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now() };
};

function countingClient() {
  const presented: string[] = [];
  const client: RefreshClient = { origin: async () => ({ tokenEndpoint: 'https://idp.test/token', issuer: 'https://idp.test', clientId: 'tokenrelay' }), refresh: async (rt) => { presented.push(rt); return tokens(); }, revoke: async () => undefined };
  return { client, presented };
}

function world() {
  const root = temp('store');
  const slotDir = join(temp('slots'), 'slot-a');
  const socketDir = join(temp('sock'), 'private');
  const secrets = join(root, 'secrets.json');
  const { client, presented } = countingClient();
  const lines: string[] = [];
  const log: Logger = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error'].map((l) => [l, (m: string) => lines.push(`${l} ${m}`)])) as unknown as Logger;
  /** A window: its own snapshot of the secret file, taken now, as a code-server tab loads it. */
  const stores: SnapshotStore[] = [];
  const window = async (extra: Partial<BrokerOptions> = {}) => {
    const store = new SnapshotStore(secrets);
    stores.push(store);
    const b = await Broker.create({
      slotDir, secretKey: 'tokenrelay/v1/slot-a', store, client, proactive: false, log,
      siblings: new UnixSiblingChannel(socketDir, silentLogger), viewCatchUpMs: 200, ...extra,
    });
    open.push(b);
    return b;
  };
  return { slotDir, socketDir, secrets, presented, lines, window, client, stores };
}

const rejects = (p: Promise<unknown>, code: string, pattern: RegExp) => assert.rejects(p, (err: unknown) => {
  assert.ok(err instanceof TokenRelayError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  return true;
});

test('SecretStorage holds only K and the generation mark; the slot directory holds sealed records and K\'s id, never a token or K', async () => {
  const w = world();
  const a = await w.window();
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  const next = await a.getToken({ rejectedAccessToken: signedIn.accessToken });
  const view = JSON.parse(readFileSync(w.secrets, 'utf8')) as Record<string, string>;
  assert.deepEqual(Object.keys(view), ['tokenrelay/v1/slot-a/seal-key', 'tokenrelay/v1/slot-a/seal-key/mark']);
  assert.deepEqual(Object.keys(JSON.parse(view['tokenrelay/v1/slot-a/seal-key/mark'])).sort(), ['gen', 'key', 'v'], 'the mark holds a number and K\'s id, nothing secret');
  const key = JSON.parse(view['tokenrelay/v1/slot-a/seal-key']).key as string;
  const everything = readdirSync(w.slotDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => readFileSync(join(e.parentPath, e.name), 'utf8')).join('\n');
  for (const secret of [signedIn.accessToken, signedIn.refreshToken!, next.accessToken, key]) {
    assert.ok(!everything.includes(secret) && !everything.includes(Buffer.from(secret).toString('base64')), 'a secret reached the slot directory');
    assert.ok(!everything.includes(fingerprint(secret)) || secret === key, 'fingerprints are not needed there either');
  }
  for (const e of readdirSync(w.slotDir, { recursive: true, withFileTypes: true })) {
    const mode = statSync(join(e.parentPath, e.name)).mode & 0o777;
    if (e.isDirectory()) assert.equal(mode, 0o700, e.name);
    else if (e.isFile()) assert.equal(mode, 0o600, e.name);
  }
});

test('a tab opened before K existed takes K from a live sibling; after its stale write-back and every window closing, the next window is still signed in', async () => {
  const w = world();
  const tab1 = await w.window();
  const tab2 = await w.window(); // its snapshot is empty: no K, no sign-in
  assert.equal(tab2.status().state, 'signed-out');
  const signedIn = tokens();
  const adopted = new Promise<void>((resolve) => tab2.onEvent((e) => { if (e.type === 'signed-in') resolve(); }));
  await tab1.signIn(signedIn, { id: 'u1', label: 'User One' });
  await adopted;
  assert.equal((await tab2.getToken()).accessToken, signedIn.accessToken);
  assert.ok(w.lines.some((l) => l.includes('Took the seal key from a live sibling')), w.lines.join('\n'));
  await tab2.getToken({ rejectedAccessToken: signedIn.accessToken }); // a refresh writes nothing secret to any view
  // Later tab 2 writes its whole view back, as code-server does whenever any extension stores a secret.
  await w.stores[1].store('another-extension/secret', 'x');
  for (const b of open.splice(0)) await b.dispose();
  const view = JSON.parse(readFileSync(w.secrets, 'utf8')) as Record<string, string>;
  assert.ok(view['tokenrelay/v1/slot-a/seal-key'], 'K survived the stale tab\'s write-back');
  const next = await w.window();
  assert.equal(next.status().state, 'signed-in', 'the next window is signed in without anyone holding the generation');
  assert.equal(w.presented.length, 1);
});

test('a forged or corrupt newer record: a named state, nothing presented; once it is removed the window heals (P9)', async () => {
  const w = world();
  const a = await w.window();
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  const gen1 = readdirSync(w.slotDir).find((n) => n.endsWith('.sealed'))!;
  const errored = new Promise<void>((resolve) => a.onEvent((e) => { if (e.type === 'error') resolve(); }));
  // A same-user process plants generation 2 with a token of its choosing, sealed under its own key.
  const forged = JSON.parse(readFileSync(join(w.slotDir, gen1), 'utf8'));
  forged.gen = 2;
  forged.ct = Buffer.from('{"account":{"id":"u1","label":"x"},"tokens":{"accessToken":"planted"}}').toString('base64');
  writeFileSync(join(w.slotDir, 'g-000000000002.sealed'), JSON.stringify(forged));
  await errored;
  await rejects(a.getToken(), 'corrupt-record', /generation 2 does not authenticate.*Remove that file/);
  await rejects(a.getToken({ rejectedAccessToken: signedIn.accessToken }), 'corrupt-record', /cannot be trusted/);
  assert.equal(a.status().errorCode, 'corrupt-record');
  assert.deepEqual(w.presented, [], 'nothing was presented on the strength of an unauthenticated record');
  const healed = new Promise<void>((resolve) => a.onEvent((e) => { if (e.type === 'signed-in') resolve(); }));
  rmSync(join(w.slotDir, 'g-000000000002.sealed'));
  await healed;
  assert.equal((await a.getToken()).accessToken, signedIn.accessToken);
});

test('a record moved from another slot, or replayed as another generation, does not authenticate', async () => {
  const w = world();
  const a = await w.window();
  await a.signIn(tokens(), { id: 'u1', label: 'User One' });
  await a.getToken({ rejectedAccessToken: a.peek()!.tokens.accessToken });
  await a.dispose();
  open.length = 0;
  // Replay generation 1's record as generation 3 (its envelope says 3, its seal says 1).
  const g1 = JSON.parse(readFileSync(join(w.slotDir, 'g-000000000001.sealed'), 'utf8'));
  writeFileSync(join(w.slotDir, 'g-000000000003.sealed'), JSON.stringify({ ...g1, gen: 3 }));
  const b = await w.window();
  assert.equal(b.status().errorCode, 'corrupt-record');
  assert.match(b.status().error!, /generation 3 does not authenticate/);
  // The same slot's files under another slot id.
  rmSync(join(w.slotDir, 'g-000000000003.sealed'));
  const moved = join(join(w.slotDir, '..'), 'slot-b');
  renameSync(w.slotDir, moved);
  const c = await w.window({ slotDir: moved });
  assert.equal(c.status().errorCode, 'corrupt-record');
  assert.deepEqual(w.presented.length, 1);
});

test('a slot directory pre-created by another user is refused with the fix; one of ours with loose bits is repaired', async () => {
  const w = world();
  mkdirSync(w.slotDir, { recursive: true });
  chmodSync(w.slotDir, 0o777);
  chownSync(w.slotDir, 65534, 65534);
  await rejects(w.window(), 'lock-dir', /slot directory .*slot-a belongs to another user \(uid 65534\).*Remove it/);
  chownSync(w.slotDir, process.getuid!(), process.getgid!());
  const a = await w.window();
  assert.equal(statSync(w.slotDir).mode & 0o777, 0o700);
  assert.equal(a.status().state, 'signed-out');
});

test('a sibling registration naming a socket outside the private socket directory is never connected to', async () => {
  const w = world();
  const a = await w.window();
  await a.signIn(tokens(), { id: 'u1', label: 'User One' });
  await a.dispose(); // nobody holds K in memory now
  open.length = 0;
  const elsewhere = join(temp('elsewhere'), 'trap.sock');
  let connections = 0;
  const trap = createServer((s) => { connections++; s.destroy(); });
  await new Promise<void>((r) => trap.listen(elsewhere, r));
  try {
    writeFileSync(join(w.slotDir, 'peers', 'peer-0123456789ab.json'), JSON.stringify({ socket: elsewhere, pid: process.pid }));
    writeFileSync(w.secrets, '{}'); // this window's view lacks K: it asks its siblings
    const b = await w.window();
    assert.equal(b.status().errorCode, 'key-missing');
    assert.equal(connections, 0, 'the planted socket was connected to');
  } finally {
    trap.close();
  }
});

test('a session stored in the previous layout (v1) upgrades without sign-in; windows still on v1 are told to reload', async () => {
  const w = world();
  mkdirSync(w.slotDir, { recursive: true, mode: 0o700 });
  const old = tokens();
  const creds = { v: 1 as const, gen: 7, account: { id: 'u1', label: 'User One' }, tokens: old };
  writeFileSync(w.secrets, JSON.stringify({ 'tokenrelay/v1/slot-a': serializeCredentials(creds) }));
  writeFileSync(join(w.slotDir, 'g-000000000007.json'), JSON.stringify({ v: 1, gen: 7, state: 'active', refreshFp: fingerprint(old.refreshToken!), writer: { pid: 1, id: 'old' }, at: Date.now() }));
  const a = await w.window();
  assert.equal(a.status().state, 'signed-in');
  assert.equal((await a.getToken()).accessToken, old.accessToken);
  assert.deepEqual(w.presented, [], 'upgraded without a refresh or a sign-in');
  const notice = JSON.parse(readFileSync(join(w.slotDir, 'g-000000000008.json'), 'utf8'));
  assert.equal(notice.state, 'needs-sign-in');
  assert.match(notice.reason, /reload this window/);
  assert.ok(readdirSync(w.slotDir).includes('spend-7'), 'v1 windows cannot spend the migrated token');
  const view = JSON.parse(readFileSync(w.secrets, 'utf8')) as Record<string, string>;
  assert.equal(view['tokenrelay/v1/slot-a'], undefined, 'the v1 copy is gone: SecretStorage holds K only');
  // It refreshes from the migrated refresh token like any generation.
  await a.getToken({ rejectedAccessToken: old.accessToken });
  assert.deepEqual(w.presented, [old.refreshToken]);
});

/** A store backed up at generation 1, refreshed to generation 2, then restored (backup, sync tool). */
async function restoredWorld() {
  const w = world();
  const a = await w.window();
  const signedIn = tokens();
  await a.signIn(signedIn, { id: 'u1', label: 'User One' });
  const backup = join(temp('backup'), 'slot-a');
  cpSync(w.slotDir, backup, { recursive: true });
  const refreshed = await a.getToken({ rejectedAccessToken: signedIn.accessToken });
  assert.deepEqual(w.presented, [signedIn.refreshToken], 'one refresh before the restore');
  const restore = () => { rmSync(w.slotDir, { recursive: true }); cpSync(backup, w.slotDir, { recursive: true }); };
  return { w, a, signedIn, refreshed, restore };
}

test('a restored older copy of the store, cold start: its spent refresh token is never presented; needs sign-in naming the restore', async () => {
  const { w, signedIn, restore } = await restoredWorld();
  for (const o of open.splice(0)) await o.dispose();
  restore();
  const b = await w.window();
  await rejects(b.getToken({ rejectedAccessToken: signedIn.accessToken, force: true }), 'needs-sign-in',
    /is an older copy \(its newest generation is 1, but generation 2 was already handed out\), as a backup restore/);
  assert.deepEqual(w.presented, [signedIn.refreshToken], 'the spent refresh token of the restored generation was never presented');
  assert.equal(b.status().state, 'needs-sign-in');
});

test('a restored older copy of the store while a process holds the newest generation: it goes on from there and the store heals', async () => {
  const { w, a, signedIn, refreshed, restore } = await restoredWorld();
  restore();
  const next = await a.getToken({ rejectedAccessToken: refreshed.accessToken, force: true });
  assert.equal(next.generation, 3);
  assert.equal(w.presented.length, 2);
  assert.ok(!w.presented.slice(1).includes(signedIn.refreshToken!), 'generation 1\'s spent refresh token was not presented again');
  const late = await w.window();
  assert.equal((await late.getToken()).accessToken, next.accessToken, 'a window started after the restore adopts the healed store');
});
