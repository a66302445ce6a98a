// Issue 19, item 2: a slot directory someone made 0777 while a window ran, and another user's files
// planted in it (claims for the coming generations, a forged next generation, a back-off, a lock).
// The next write repairs the mode and removes them; files another user owns in a 0700 directory
// are ignored and reported. Either way refreshes go on, where before every one ended the sign-in.
// Another user's files need root (chown); as any other user these tests are skipped.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Broker } from '../../src/core/broker.ts';
import { World, SECRET_KEY } from '../harness/fixture.ts';
import { LaggedSharedStore } from '../harness/stores.ts';
import { TEST_USER, captureLog } from '../cli/support.ts';

const skip = process.getuid?.() !== 0 ? 'needs root to plant files owned by another user' : false;

/** What another user puts in the slot directory while it is open to everyone: mode 0600, owned by TEST_USER. */
function plant(slotDir: string, fromGen: number): string[] {
  const names: string[] = [];
  const put = (name: string, content: string) => {
    writeFileSync(join(slotDir, name), content, { mode: 0o600 });
    chownSync(join(slotDir, name), TEST_USER.uid, TEST_USER.gid);
    names.push(name);
  };
  for (let gen = fromGen; gen < fromGen + 40; gen++) put(`spend-${gen}`, 'not a claim');
  put(`g-${String(fromGen + 1).padStart(12, '0')}.sealed`, '{"v":2}');
  put('status.json', JSON.stringify({ gen: fromGen, offlineUntil: Date.now() + 3_600_000, failures: 9 }));
  mkdirSync(join(slotDir, 'lock', 'refresh.lock'));
  chownSync(join(slotDir, 'lock', 'refresh.lock'), TEST_USER.uid, TEST_USER.gid);
  return names;
}

const foreignIn = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).filter((n) => lstatSync(join(dir, n)).uid === TEST_USER.uid);

async function withBroker(body: (world: World, broker: Broker, log: ReturnType<typeof captureLog>) => Promise<void>): Promise<void> {
  const world = await World.create({ storeModel: 'shared-lag' });
  const store = new LaggedSharedStore(world.storePath, 0);
  const log = captureLog();
  let broker: Broker | undefined;
  try {
    await world.signIn();
    broker = await Broker.create({ slotDir: world.slotDir, secretKey: SECRET_KEY, store, client: world.oauthClient(), proactive: false, log, lockStaleMs: 2000 });
    await body(world, broker, log);
  } finally {
    await broker?.dispose();
    store.close();
    await world.close();
  }
}

/** Three refreshes in a row, each forced as a user's "refresh now" does. */
async function refreshThrice(world: World, broker: Broker): Promise<void> {
  world.idp.resetCounters();
  let current = await broker.getToken();
  for (let i = 1; i <= 3; i++) {
    const next = await broker.getToken({ rejectedAccessToken: current.accessToken, force: true });
    assert.equal(next.generation, current.generation + 1, `refresh ${i} made the next generation`);
    current = next;
  }
  assert.equal(world.idp.counters().refreshGrants, 3);
  assert.equal(world.idp.counters().grantRevocations, 0);
  assert.equal(broker.status().state, 'signed-in');
}

test('a slot directory made 0777 while running, another user\'s files planted: the next write repairs and empties it, refreshes go on', { skip, timeout: 60_000 }, async () => {
  await withBroker(async (world, broker, log) => {
    const { generation } = await broker.getToken();
    chmodSync(world.slotDir, 0o777);
    const planted = plant(world.slotDir, generation);
    await refreshThrice(world, broker);
    assert.equal(statSync(world.slotDir).mode & 0o777, 0o700, 'the mode was repaired');
    assert.deepEqual(foreignIn(world.slotDir), [], 'nothing of the other user is left');
    const swept = log.lines.filter((l) => l.includes('was open to other users'));
    assert.equal(swept.length, 1, log.lines.join('\n'));
    assert.match(swept[0], new RegExp(`^\\[warn\\] ${world.slotDir.replace(/[.]/g, '\\.')} was open to other users; its mode is 0700 again\\. Removed what another user put in it: .*\\(${planted.length} in all\\)\\.$`));
  });
});

test('another user\'s files in a slot directory that is 0700 again (repaired by an older version): ignored and reported once each, refreshes go on', { skip, timeout: 60_000 }, async () => {
  await withBroker(async (world, broker, log) => {
    const { generation } = await broker.getToken();
    chmodSync(world.slotDir, 0o777);
    plant(world.slotDir, generation);
    chmodSync(world.slotDir, 0o700);
    await refreshThrice(world, broker);
    const ignored = log.lines.filter((l) => l.includes('belongs to another user'));
    assert.ok(ignored.length >= 3, log.lines.join('\n'));
    assert.equal(new Set(ignored).size, ignored.length, 'each file is reported once');
    assert.match(ignored[0], /^\[warn\] Ignoring .*: it belongs to another user \(uid 999\), so Token Relay did not write it\. Remove it; check who could write to /);
    // The names this window's refreshes needed were taken over; the rest stays ignored.
    for (let gen = generation; gen < generation + 3; gen++) assert.equal(lstatSync(join(world.slotDir, `spend-${gen}`)).uid, 0, `spend-${gen} is this user's claim now`);
  });
});
