// The terminal socket under bad input and hostile neighbours: size cap, stalls, malformed and
// random requests, other users, file modes. The server must answer clearly and never go down.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, chmodSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { postJson, IpcRemoteError } from '../../src/ipc/jsonClient.ts';
import { serveTerminals } from '../../src/ipc/tokenServer.ts';
import { captureLog, runCli, startWindow, waitFor, type TestWindow } from './support.ts';

let world: World;
let win: TestWindow;
let sock: string;

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world, { requestTimeoutMs: 1000 });
  sock = win.server.socketPath;
});

after(async () => {
  await win?.close();
  await world?.close();
});

interface RawReply { status?: number; body?: { error?: { code: string; message: string } } & Record<string, unknown>; raw: string; ms: number; hung: boolean }

/** Writes raw bytes to the socket and collects everything until the server closes (or a deadline). */
function raw(path: string, bytes: string | Buffer, opts: { end?: boolean; deadlineMs?: number } = {}): Promise<RawReply> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(path);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (hung: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      const bodyText = text.split('\r\n\r\n').slice(1).join('\r\n\r\n');
      let body;
      try { body = bodyText ? JSON.parse(bodyText) : undefined; } catch { body = undefined; }
      resolve({ status: status ? Number(status) : undefined, body, raw: text, ms: performance.now() - started, hung });
    };
    const timer = setTimeout(() => finish(true), opts.deadlineMs ?? 5000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => {
      socket.write(bytes);
      if (opts.end !== false) socket.end();
    });
  });
}

const post = (path: string, body: string, headers = '') =>
  `POST ${path} HTTP/1.1\r\nhost: tokenrelay\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`;

async function remoteError(promise: Promise<unknown>): Promise<IpcRemoteError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof IpcRemoteError, `expected a structured error, got ${String(err)}`);
  return err;
}

describe('socket files', () => {
  test('directory 0700, socket 0600 with an unguessable name', () => {
    assert.equal(statSync(world.socketDir).mode & 0o777, 0o700);
    const s = statSync(sock);
    assert.ok(s.isSocket());
    assert.equal(s.mode & 0o777, 0o600);
    assert.match(sock, /\/term-[0-9a-f]{24}\.sock$/);
  });

  test('a loose directory is tightened; stale sockets of dead windows are removed at start; the socket is removed on close', async () => {
    const dir = join(world.dir, 'loose');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    // A "window" that died without cleaning up: its socket file stays, nobody listens.
    const dead = join(dir, 'term-0123456789abcdef01234567.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(dead)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.ok(existsSync(dead));
    const live = await serveTerminals({ socketDir: dir, service: win.service, log: captureLog() });
    try {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.ok(!existsSync(dead), 'stale socket removed');
      const second = await serveTerminals({ socketDir: dir, service: win.service, log: captureLog() });
      assert.ok(existsSync(live.socketPath), 'a live window\'s socket is kept');
      await second.close();
      assert.ok(!existsSync(second.socketPath));
      assert.deepEqual(readdirSync(dir), [live.socketPath.split('/').pop()]);
    } finally {
      await live.close();
    }
    assert.ok(!existsSync(live.socketPath), 'socket removed on close');
  });
});

describe('bad input gets a clear error', () => {
  test('bodies over 64 KiB are refused with 413 (declared and streamed)', async () => {
    const big = JSON.stringify({ rejected: 'x'.repeat(70 * 1024) });
    const err = await remoteError(postJson(sock, 'token', JSON.parse(big)));
    assert.equal(err.code, 'too-large');
    assert.equal(err.status, 413);
    assert.match(err.message, /Request body over 65536 bytes/);
    const chunked = `POST /v1/token HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${(70 * 1024).toString(16)}\r\n${'y'.repeat(70 * 1024)}\r\n0\r\n\r\n`;
    const r = await raw(sock, chunked);
    assert.equal(r.status, 413);
    assert.equal(r.body?.error?.code, 'too-large');
  });

  test('malformed JSON, non-object bodies, unknown routes and versions, wrong methods, garbage', async () => {
    const cases: [string | Buffer, number, string, RegExp][] = [
      [post('/v1/token', '{"scopes": ['), 400, 'malformed-json', /not a JSON object/],
      [post('/v1/token', '[1,2]'), 400, 'malformed-json', /not a JSON object/],
      [post('/v1/nope', '{}'), 404, 'unknown-route', /Unknown route "nope"/],
      [post('/v2/token', '{}'), 400, 'unsupported-version', /version 2 is not supported.*update the tokenrelay CLI or the extension/],
      [post('/token', '{}'), 404, 'unknown-route', /Unknown path/],
      ['GET /v1/status HTTP/1.1\r\nhost: x\r\n\r\n', 405, 'method', /Only POST/],
      [post('/v1/token', '{"scopes": 5}'), 409, 'protocol', /Invalid terminal request: "scopes".*Update the tokenrelay CLI/],
      [post('/v1/token', '{"minValidSeconds": -1}'), 409, 'protocol', /"minValidSeconds"/],
      [post('/v1/token', '{"resource": "api-a"}'), 409, 'protocol', /Invalid terminal request: "resource" must be an absolute URI/],
      [post('/v1/token', '{"resource": 7}'), 409, 'protocol', /"resource" must be a non-empty string of at most 2048 characters/],
      [post('/v1/token', JSON.stringify({ resource: `https://a.test/${'x'.repeat(2048)}` })), 409, 'protocol', /"resource" must be a non-empty string of at most 2048/],
      [post('/v1/report-rejected', '{}'), 409, 'protocol', /"token" is required/],
      [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]), 400, 'bad-request', /not valid HTTP/],
    ];
    for (const [bytes, status, code, message] of cases) {
      const r = await raw(sock, bytes);
      assert.equal(r.hung, false, `no answer for ${String(bytes).slice(0, 30)}`);
      assert.equal(r.status, status, `${String(bytes).slice(0, 40)} -> ${r.raw.slice(0, 200)}`);
      assert.equal(r.body?.error?.code, code);
      assert.match(r.body?.error?.message ?? '', message);
    }
  });

  test('a stalled client is cut off with 408 while other clients are served', async () => {
    const stalled = raw(sock, 'POST /v1/token HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"sco', { end: false, deadlineMs: 8000 });
    const silent = raw(sock, '', { end: false, deadlineMs: 8000 });
    // Meanwhile, normal requests go through.
    for (let i = 0; i < 5; i++) assert.equal((await postJson<{ state: string }>(sock, 'status', {})).state, 'signed-in');
    const r = await stalled;
    assert.equal(r.hung, false, 'the server closed the stalled connection');
    assert.equal(r.status, 408);
    assert.equal(r.body?.error?.code, 'timeout');
    assert.match(r.body?.error?.message ?? '', /not received within 1000 ms/);
    assert.ok(r.ms >= 900 && r.ms < 4000, `cut off after ${r.ms} ms`);
    const s = await silent;
    assert.equal(s.hung, false, 'a client that never sends is closed too');
  });

  test('10 000 malformed or random requests, then a normal request still succeeds', async () => {
    win.signIns.cancel = true;
    const fdsBefore = openFds();
    let seed = 0x2545f491;
    const rand = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 0x100000000; };
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const routes = ['token', 'status', 'report-rejected', 'sign-in', 'git-credential', 'nope', '', '../token', 'token/x', '%00'];
    const values = [null, true, 1, -1, 1e308, 'x', '', 'a b', [], ['openid'], [1], {}, { a: 1 }, 'z'.repeat(300)];
    const fields = ['scopes', 'minValidSeconds', 'rejected', 'account', 'token', 'force', '__proto__', 'constructor'];
    const generators: (() => string | Buffer)[] = [
      () => bytes(1 + Math.floor(rand() * 200)),
      () => post(`/v${pick([1, 1, 1, 0, 2, 99])}/${pick(routes)}`, JSON.stringify(Object.fromEntries(
        Array.from({ length: Math.floor(rand() * 4) }, () => [pick(fields), pick(values)])))),
      () => post(`/v1/${pick(routes)}`, bytes(Math.floor(rand() * 64)).toString('latin1')),
      () => post('/v1/token', '{"scopes":'.repeat(Math.floor(rand() * 50))),
      () => `${pick(['GET', 'PUT', 'DELETE', 'BREW', 'POST'])} /v1/${pick(routes)} HTTP/1.${pick([0, 1, 9])}\r\nhost: x\r\n${pick(['', 'content-length: -1\r\n', 'content-length: 99999999\r\n', 'transfer-encoding: chunked\r\n', 'content-length: 3\r\ncontent-length: 4\r\n'])}\r\n{}`,
      () => post('/v1/status', '{}', `${'x-h: v\r\n'.repeat(Math.floor(rand() * 80))}`),
      () => post(`/v1/${pick(routes)}`, '{}').slice(0, Math.floor(rand() * 60)),
    ];
    const total = 10_000;
    let next = 0;
    let hung = 0;
    const statuses = new Map<number | undefined, number>();
    const started = Date.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < total) {
        next++;
        const r = await raw(sock, pick(generators)(), { deadlineMs: 4000 });
        if (r.hung) hung++;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }));
    const elapsed = Date.now() - started;
    win.signIns.cancel = false;
    assert.equal(hung, 0, 'every fuzz connection was answered or closed');
    assert.ok(!statuses.has(500), `no internal errors: ${JSON.stringify([...statuses])}`);
    assert.ok(elapsed < 20_000, `fuzz took ${elapsed} ms`);
    // The server is alive and serves normally, through the real CLI too.
    assert.equal((await postJson<{ state: string }>(sock, 'status', {})).state, 'signed-in');
    const cli = await runCli(sock, ['token']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), (await win.service.getToken()).accessToken);
    await waitFor('connections to close', 3000, () => openFds() - fdsBefore < 20);
    assert.ok(!win.log.lines.some((l) => l.includes('[error]')), win.log.lines.filter((l) => l.includes('[error]')).join('\n'));
  });
});

describe('other users', () => {
  /** Another user, without creating an account the machine would keep: ids no account has (setpriv needs none). */
  function otherUser(): { uid: number; gid: number } {
    const taken = (file: string) => new Set(readFileSync(file, 'utf8').split('\n').map((l) => Number(l.split(':')[2])));
    const [uids, gids] = [taken('/etc/passwd'), taken('/etc/group')];
    let id = 54_321;
    while (uids.has(id) || gids.has(id)) id++;
    return { uid: id, gid: id };
  }

  const probe = (path: string) => `const s = require('net').connect(${JSON.stringify(path)});
s.on('connect', () => { process.stdout.write('CONNECTED'); s.destroy(); });
s.on('error', (e) => process.stdout.write(e.code));`;

  function connectAs(uid: number, gid: number, path: string): string {
    return execFileSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, '-e', probe(path)], { encoding: 'utf8', cwd: '/' });
  }

  test('a process running as another uid cannot connect (directory 0700, and socket 0600 on its own)', () => {
    if (process.getuid!() !== 0) return assert.fail('this test needs root to switch to another user');
    const { uid, gid } = otherUser();
    assert.notEqual(uid, 0);
    assert.equal(execFileSync(process.execPath, ['-e', probe(sock)], { encoding: 'utf8' }), 'CONNECTED', 'the probe works for the owner');
    // Every ancestor must be traversable by the test user for the second check to mean anything.
    const parents = ancestors(world.socketDir);
    const saved = parents.map((p) => statSync(p).mode & 0o7777);
    try {
      for (const p of parents) chmodSync(p, statSync(p).mode | 0o001);
      assert.equal(connectAs(uid, gid, sock), 'EACCES', 'the 0700 directory keeps other users out');
      chmodSync(world.socketDir, 0o711); // pretend the directory were traversable: the 0600 socket still refuses
      assert.equal(connectAs(uid, gid, sock), 'EACCES', 'the 0600 socket keeps other users out');
    } finally {
      chmodSync(world.socketDir, 0o700);
      parents.forEach((p, i) => chmodSync(p, saved[i]));
    }
  });
});

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = join(dir, '..'); d !== '/'; d = join(d, '..')) out.push(d);
  return out;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').filter((fd) => { try { readlinkSync(`/proc/self/fd/${fd}`); return true; } catch { return false; } }).length;
}
