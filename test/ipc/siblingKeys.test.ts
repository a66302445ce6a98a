// Issue 19, items 5 and 7: K is asked of every registered sibling, within a bound, until one answers
// the K that matches key-id. A sibling answering a wrong K is passed over and logged once; 20,000
// junk registrations cost each request a bounded scan and a bounded number of log lines.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Keyring } from '../../src/core/keyring.ts';
import { SealedStore } from '../../src/core/sealedStore.ts';
import { sealKeyOf } from '../../src/core/seal.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';
import { captureLog } from '../cli/support.ts';

function setUp() {
  const root = mkdtempSync(join(tmpdir(), 'trsib-'));
  const sockets = join(root, 'sock');
  mkdirSync(sockets, { mode: 0o700 });
  const slot = SealedStore.open(join(root, 'slot'), 'slot-1');
  return { root, sockets, slot, peersDir: slot.peersDir };
}

const good = randomBytes(32);
const goodId = sealKeyOf(good)!.id;
const accept = (bytes: Buffer) => sealKeyOf(bytes)?.id === goodId;

/** A sibling answering `key` for any id, registered under `name` (names sort: the order siblings are asked in). */
async function sibling(sockets: string, peersDir: string, key: Buffer, name: string): Promise<UnixSiblingChannel> {
  const channel = new UnixSiblingChannel(sockets, captureLog(), []);
  const before = new Set(readdirSync(peersDir));
  await channel.listen(peersDir, () => key);
  const registered = readdirSync(peersDir).find((n) => !before.has(n))!;
  renameSync(join(peersDir, registered), join(peersDir, name));
  return channel;
}

test('a sibling answering a wrong K beside a good one: K comes from the good one; the wrong one is logged once', async () => {
  const { sockets, slot, peersDir } = setUp();
  const wrong = await sibling(sockets, peersDir, randomBytes(32), 'peer-00000000.json'); // asked first
  const right = await sibling(sockets, peersDir, good, 'peer-ffffffff.json');
  const log = captureLog();
  const asking = new UnixSiblingChannel(sockets, log, []);
  try {
    assert.deepEqual(await asking.askKey(peersDir, goodId, accept), good);
    // The K-less window's keyring, as in the attack: it ends with K, not in error.
    writeFileSync(join(slot.dir, 'key-id'), JSON.stringify({ v: 2, id: goodId }), { mode: 0o600 });
    const keyring = new Keyring({ stores: [], name: 'k', slot, siblings: new UnixSiblingChannel(sockets, log, []), writeInOrder: (write) => write(), log });
    const found = await keyring.load();
    assert.ok('key' in found && found.key.id === goodId, JSON.stringify(found));
    await right.close();
    for (let i = 0; i < 3; i++) assert.equal(await asking.askKey(peersDir, goodId, accept), undefined, 'only the wrong one is left');
    const said = log.lines.filter((l) => l.includes('answered a seal key that is not the one'));
    assert.equal(said.length, 2, `once per asking channel and sibling:\n${log.lines.join('\n')}`);
    assert.match(said[0], /^\[warn\] The sibling pid \d+ \(.*\.sock\) answered a seal key that is not the one this slot's records name \(key-id [0-9a-f]+\); asking the others$/);
  } finally {
    await wrong.close();
    await right.close().catch(() => undefined);
  }
});

test('20,000 junk registrations beside a good sibling: a bounded scan per request, a bounded number of log lines, and K is found', { timeout: 60_000 }, async () => {
  const { sockets, peersDir } = setUp();
  const JUNK = 20_000;
  for (let i = 0; i < JUNK; i++) {
    // A live pid (this one) naming a socket that is not a private one of this user: never removed, never asked.
    writeFileSync(join(peersDir, `peer-${i.toString(16).padStart(8, '0')}.json`), JSON.stringify({ socket: `/tmp/junk-${i}.sock`, pid: process.pid }));
  }
  const right = await sibling(sockets, peersDir, good, 'peer-ffffffff.json'); // sorts last: found only once the scan reached it
  const log = captureLog();
  const asking = new UnixSiblingChannel(sockets, log, []);
  try {
    let requests = 0;
    let key: Buffer | undefined;
    while (!key && requests < 40) {
      requests++;
      key = await asking.askKey(peersDir, goodId, accept);
    }
    assert.deepEqual(key, good, `K after ${requests} requests`);
    assert.ok(requests <= Math.ceil((JUNK + 1) / 1024), `${requests} requests`);
    for (let i = 0; i < 5; i++) assert.deepEqual(await asking.askKey(peersDir, goodId, accept), good, 'the sibling that gave K is asked first from then on');
    console.log(`# ${JUNK} junk registrations: K after ${requests} requests, ${log.lines.length} log line(s) over ${requests + 5} requests`);
    assert.ok(log.lines.length <= 2, log.lines.join('\n'));
    assert.match(log.lines[0], /^\[warn\] Ignoring 1024 sibling registrations naming sockets that are not a private socket of this user in .* \(for example \/tmp\/junk-0\.sock\); said at most once a minute$/);
  } finally {
    await right.close();
  }
});
