// Socket paths as the OS sees them: 106–130-byte paths and multi-byte directory names (libuv would
// truncate a long one and bind elsewhere), and a preferred directory planted by another user, a
// symlink or a file. The socket must be reachable, 0600, inside a 0700 directory of ours, and
// nothing may be left anywhere else, also when binding is refused.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { captureLog, runCli, startWindow, type TestWindow } from '../cli/support.ts';
import { postJson } from '../../src/ipc/jsonClient.ts';
import { listenJson } from '../../src/ipc/jsonServer.ts';
import { serveTerminals } from '../../src/ipc/tokenServer.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';
import { MAX_SOCKET_PATH_BYTES, SOCKET_NAME_BYTES, defaultSocketDir, fallbackSocketDirs, socketDirCandidates } from '../../src/ipc/socketPaths.ts';
import type { StatusResponse } from '../../src/ipc/tokenProtocol.ts';
import { TokenRelayError } from '../../src/core/errors.ts';

/** A uid no account on this machine has (see server.test.ts); chown needs no account. */
const STRANGER = 12_345;

let world: World;
let win: TestWindow;
let base: string;

before(async () => {
  if (process.getuid!() !== 0) assert.fail('these tests need root (chown to another uid)');
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world);
  base = mkdtempSync('/tmp/trs-'); // short, so every length below can be built under it
});

after(async () => {
  await win?.close();
  await world?.close();
  if (base) rmSync(base, { recursive: true, force: true });
});

/** Every file (not directory) under `dir`, recursively: where a truncated bind would show up. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? filesUnder(path) : [path];
  });
}

/** A directory under `root` such that a socket in it has exactly `bytes` bytes; `unit` pads (may be multi-byte). */
function dirForSocketPath(root: string, bytes: number, unit: string): string {
  const room = bytes - Buffer.byteLength(root) - 2 - SOCKET_NAME_BYTES; // two slashes
  const unitBytes = Buffer.byteLength(unit);
  const name = unit.repeat(Math.floor(room / unitBytes)) + 'x'.repeat(room % unitBytes);
  const dir = join(root, name);
  assert.equal(Buffer.byteLength(join(dir, 'x'.repeat(SOCKET_NAME_BYTES))), bytes);
  return dir;
}

async function assertPrivateAndReachable(socketPath: string): Promise<StatusResponse> {
  const s = lstatSync(socketPath);
  assert.ok(s.isSocket(), `${socketPath} is a socket`);
  assert.equal(s.mode & 0o777, 0o600);
  const d = lstatSync(join(socketPath, '..'));
  assert.ok(d.isDirectory() && !d.isSymbolicLink());
  assert.equal(d.mode & 0o777, 0o700);
  assert.equal(d.uid, process.getuid!());
  const status = await postJson<StatusResponse>(socketPath, 'status', {});
  assert.equal(status.state, 'signed-in');
  return status;
}

describe('socket path length', () => {
  const cases: [number, string][] = [[106, 'a'], [107, 'ü'], [108, 'c'], [110, 'ü'], [115, 'd'], [120, '界'], [125, 'ソ'], [130, 'e']];
  for (const [bytes, unit] of cases) {
    test(`${bytes}-byte socket path (${Buffer.byteLength(unit) > 1 ? `multi-byte "${unit}"` : 'ASCII'}): ${bytes <= MAX_SOCKET_PATH_BYTES ? 'binds in place' : 'moves to the short fallback'}`, async () => {
      const root = mkdtempSync(join(base, 'L'));
      const preferred = dirForSocketPath(root, bytes, unit);
      const fallback = join(root, 'fb');
      const log = captureLog();
      const server = await serveTerminals({ socketDir: preferred, fallbackSocketDirs: [fallback], service: win.service, log });
      try {
        const fits = bytes <= MAX_SOCKET_PATH_BYTES;
        assert.equal(join(server.socketPath, '..'), fits ? preferred : fallback);
        const status = await assertPrivateAndReachable(server.socketPath);
        assert.deepEqual(filesUnder(root), [server.socketPath], 'no file anywhere else (a truncated bind would leave one)');
        if (fits) {
          assert.equal(status.socketNotice, undefined);
        } else {
          assert.match(status.socketNotice ?? '', new RegExp(`sockets are in ${fallback}, because .* is too long for a socket path`));
          assert.ok(log.lines.some((l) => l.includes('[warn]') && l.includes('too long for a socket path')), 'the log says why');
        }
      } finally {
        await server.close();
      }
      assert.deepEqual(filesUnder(root), [], 'the socket is removed on close');
    });
  }

  test('listenJson refuses a path over the limit before binding, naming the length and the fix; nothing is created', async () => {
    const root = mkdtempSync(join(base, 'R'));
    for (const [bytes, unit] of [[108, 'x'], [118, 'ü'], [130, '界']] as const) {
      const dir = dirForSocketPath(root, bytes, unit);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const path = join(dir, `term-${'0'.repeat(24)}.sock`);
      const err = await listenJson(path, { log: captureLog(), routes: {} }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof TokenRelayError, String(err));
      assert.match(err.message, new RegExp(`is ${bytes} bytes, more than the ${MAX_SOCKET_PATH_BYTES} this system allows\\. Set XDG_RUNTIME_DIR`));
    }
    assert.deepEqual(filesUnder(root), []);
  });

  test('listenJson refuses a directory of another user before binding; nothing is created', async () => {
    const dir = mkdtempSync(join(base, 'O'));
    chownSync(dir, STRANGER, STRANGER);
    const err = await listenJson(join(dir, 'term-0.sock'), { log: captureLog(), routes: {} }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TokenRelayError);
    assert.match(err.message, /belongs to another user \(uid 12345\)/);
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('a planted fallback directory', () => {
  test('the default rules: $XDG_RUNTIME_DIR/tokenrelay, /run/user/<uid>/tokenrelay (always searched; chosen only while a login made /run/user/<uid>), $TMPDIR/tokenrelay-<uid>, /tmp/tokenrelay-<uid>, ~/.cache/tokenrelay/sock', () => {
    const uid = process.getuid!();
    const runUser = `/run/user/${uid}/tokenrelay`;
    assert.deepEqual(socketDirCandidates({ XDG_RUNTIME_DIR: '/x', TMPDIR: '/var/tmp/', HOME: '/home/u' }),
      ['/x/tokenrelay', runUser, `/var/tmp/tokenrelay-${uid}`, `/tmp/tokenrelay-${uid}`, '/home/u/.cache/tokenrelay/sock']);
    assert.deepEqual(socketDirCandidates({ HOME: '/home/u' }), [runUser, `/tmp/tokenrelay-${uid}`, '/home/u/.cache/tokenrelay/sock']);
    assert.equal(defaultSocketDir({ XDG_RUNTIME_DIR: '/x' }), '/x/tokenrelay');
    assert.equal(defaultSocketDir({ XDG_RUNTIME_DIR: `/run/user/${uid}` }), runUser, 'named by XDG_RUNTIME_DIR, it is used (and made) as before');
    const loggedIn = existsSync(`/run/user/${uid}`);
    assert.equal(defaultSocketDir({ TMPDIR: '/var/tmp/' }), loggedIn ? runUser : `/var/tmp/tokenrelay-${uid}`);
    assert.deepEqual(fallbackSocketDirs({ HOME: '/home/u' }), [...(loggedIn ? [runUser] : []), `/tmp/tokenrelay-${uid}`, '/home/u/.cache/tokenrelay/sock']);
  });

  const plantings: [string, (dir: string) => void, RegExp][] = [
    ['owned by another user', (dir) => { mkdirSync(dir); chownSync(dir, STRANGER, STRANGER); chmodSync(dir, 0o700); }, /belongs to another user \(uid 12345\)/],
    ['owned by another user, mode 0777', (dir) => { mkdirSync(dir); chownSync(dir, STRANGER, STRANGER); chmodSync(dir, 0o777); }, /belongs to another user \(uid 12345\)/],
    ['a symlink to a directory of ours', (dir) => { const target = `${dir}-target`; mkdirSync(target, { mode: 0o700 }); symlinkSync(target, dir); }, /is not a plain directory/],
    ['a file', (dir) => writeFileSync(dir, ''), /is not a plain directory/],
  ];
  for (const [what, plant, reason] of plantings) {
    test(`/tmp/tokenrelay-<uid> ${what}: the window uses the home cache, says so in the log and in \`tokenrelay status\`, and leaves the planted one alone`, async () => {
      const root = mkdtempSync(join(base, 'H'));
      const planted = join(root, `tokenrelay-${process.getuid!()}`);
      plant(planted);
      const before = lstatSync(planted);
      const homeCache = join(root, 'home', '.cache', 'tokenrelay', 'sock');
      const log = captureLog();
      const server = await serveTerminals({ socketDir: planted, fallbackSocketDirs: [homeCache], service: win.service, log });
      const siblings = new UnixSiblingChannel(planted, log, [homeCache]);
      const peersDir = join(root, 'slot', 'peers');
      for (const d of [peersDir, join(root, 'slot', '.tmp')]) mkdirSync(d, { recursive: true, mode: 0o700 });
      try {
        assert.equal(join(server.socketPath, '..'), homeCache);
        const status = await assertPrivateAndReachable(server.socketPath);
        assert.match(status.socketNotice ?? '', new RegExp(`sockets are in ${homeCache}, because .*${reason.source}`));
        assert.ok(log.lines.some((l) => l.includes('[warn]') && reason.test(l) && l.includes(homeCache)), log.lines.join('\n'));
        const cli = await runCli(server.socketPath, ['status']);
        assert.equal(cli.code, 0, cli.stderr);
        assert.match(cli.stdout, new RegExp(`sockets: +Token Relay's sockets are in ${homeCache}, because .*${reason.source}`));
        // The peer socket follows the same rule.
        await siblings.listen(peersDir, () => undefined);
        const [registration] = readdirSync(peersDir);
        const peerSocket = JSON.parse(readFileSync(join(peersDir, registration), 'utf8')).socket as string;
        assert.equal(join(peerSocket, '..'), homeCache);
        const after = lstatSync(planted);
        assert.deepEqual([after.uid, after.mode, after.ino], [before.uid, before.mode, before.ino], 'the planted entry is not touched');
        if (after.isDirectory()) assert.deepEqual(readdirSync(planted), [], 'nothing was put in the planted directory');
      } finally {
        await siblings.close();
        await server.close();
      }
    });
  }

  test('a sibling\'s socket is trusted only in one of this window\'s socket directories, and only while that directory is private', async () => {
    const root = mkdtempSync(join(base, 'S'));
    const planted = join(root, 'planted');
    mkdirSync(planted);
    chownSync(planted, STRANGER, STRANGER);
    const fallback = join(root, 'fb');
    const peersDir = join(root, 'slot', 'peers');
    for (const d of [peersDir, join(root, 'slot', '.tmp')]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const log = captureLog();
    const key = Buffer.from('the seal key');
    const sibling = new UnixSiblingChannel(planted, log, [fallback]);
    await sibling.listen(peersDir, () => key); // lands in the fallback
    const asking = new UnixSiblingChannel(planted, log, [fallback]);
    const stranger = new UnixSiblingChannel(join(root, 'elsewhere'), log, []);
    try {
      assert.deepEqual(await asking.askKey(peersDir, 'k', () => true), key, 'trusted in a fallback directory of its own');
      chmodSync(fallback, 0o755);
      assert.equal(await asking.askKey(peersDir, 'k', () => true), undefined, 'not while that directory is open to others');
      chmodSync(fallback, 0o700);
      assert.equal(await stranger.askKey(peersDir, 'k', () => true), undefined, 'not in a directory that is none of its socket directories');
      assert.ok(log.lines.some((l) => l.includes('Ignoring a sibling registration')));
    } finally {
      await sibling.close();
    }
  });

  test('a loose directory of our own is repaired in place (no fallback)', async () => {
    const dir = mkdtempSync(join(base, 'M'));
    chmodSync(dir, 0o777);
    const server = await serveTerminals({ socketDir: dir, fallbackSocketDirs: [join(base, 'unused')], service: win.service, log: captureLog() });
    try {
      assert.equal(join(server.socketPath, '..'), dir);
      assert.equal((await assertPrivateAndReachable(server.socketPath)).socketNotice, undefined);
    } finally {
      await server.close();
    }
  });

  test('no usable directory at all: one error listing each refusal and the fix; nothing bound', async () => {
    const root = mkdtempSync(join(base, 'N'));
    const long = dirForSocketPath(root, 120, 'z');
    const planted = join(root, 'planted');
    mkdirSync(planted);
    chownSync(planted, STRANGER, STRANGER);
    const err = await serveTerminals({ socketDir: long, fallbackSocketDirs: [planted], service: win.service, log: captureLog() })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TokenRelayError, String(err));
    assert.match(err.message, /found no private directory for its sockets: .* is too long for a socket path .*; .*planted belongs to another user.* Set XDG_RUNTIME_DIR to a short directory only you can enter/);
    assert.deepEqual(filesUnder(root), []);
    assert.equal(statSync(planted).uid, STRANGER);
  });
});
