// The IPC client (HTTP/1.1 on a raw socket) against windows that misbehave (raw servers on a unix socket): each
// failure keeps its class and reason, which the CLI maps to exit codes and messages.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IpcRemoteError, IpcUnavailableError, postJson } from '../../src/ipc/jsonClient.ts';
import { call } from '../../src/cli/connection.ts';
import { CliError } from '../../src/cli/common.ts';

let dir: string;
let n = 0;
const servers: Server[] = [];

before(() => { dir = mkdtempSync('/tmp/trj-'); });
after(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** A raw server that runs `onRequest` once a whole request head (and its declared body) has arrived. */
async function rawServer(onRequest: (socket: Socket, request: string) => void): Promise<string> {
  const path = join(dir, `s${n++}.sock`);
  const server = createServer((socket) => {
    let text = '';
    socket.setEncoding('latin1').on('data', (d: string) => {
      text += d;
      const split = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      if (split >= 0 && text.length >= split + 4 + length) onRequest(socket, text);
    });
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return path;
}

const answer = (status: number, body: string) => `HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => assert.fail('expected a failure'), (e: unknown) => e);
}

describe('postJson', () => {
  test('sends one POST /v1/<route> with a JSON body and returns the JSON answer', async () => {
    let seen = '';
    const path = await rawServer((s, request) => { seen = request; s.end(answer(200, '{"ok":true}')); });
    assert.deepEqual(await postJson(path, 'status', { a: 1 }), { ok: true });
    assert.match(seen, /^POST \/v1\/status HTTP\/1\.1\r\n/);
    assert.match(seen, /\r\ncontent-type: application\/json\r\n/i);
    assert.ok(seen.endsWith('\r\n\r\n{"a":1}'));
  });

  test('a structured error keeps its code, message and status; a malformed one becomes `protocol`', async () => {
    const path = await rawServer((s) => s.end(answer(409, '{"error":{"code":"not-signed-in","message":"Not signed in."}}')));
    const err = await failure(postJson(path, 'token', {}));
    assert.ok(err instanceof IpcRemoteError);
    assert.deepEqual([err.code, err.message, err.status], ['not-signed-in', 'Not signed in.', 409]);
    const odd = await rawServer((s) => s.end(answer(500, '{"error":"boom"}')));
    const e2 = await failure(postJson(odd, 'token', {}));
    assert.ok(e2 instanceof IpcRemoteError);
    assert.deepEqual([e2.code, e2.status], ['protocol', 500]);
  });

  test('an unreadable or oversized answer is a `protocol` error', async () => {
    const garbage = await rawServer((s) => s.end(answer(200, 'not json')));
    const e1 = await failure(postJson(garbage, 'status', {}));
    assert.ok(e1 instanceof IpcRemoteError && e1.code === 'protocol' && /unreadable/.test(e1.message));
    const huge = await rawServer((s) => s.end(answer(200, JSON.stringify({ x: 'y'.repeat(2 * 1024 * 1024) }))));
    const e2 = await failure(postJson(huge, 'status', {}));
    assert.ok(e2 instanceof IpcRemoteError && e2.code === 'protocol' && /oversized/.test(e2.message), String(e2));
  });

  test('no socket, a stale socket, a window closing without an answer, and one that never answers: IpcUnavailableError with the reason', async () => {
    const missing = await failure(postJson(join(dir, 'missing.sock'), 'status', {}));
    assert.ok(missing instanceof IpcUnavailableError && missing.reason === 'ENOENT', String(missing));

    // A window that died without cleaning up: its listener killed, the socket file left behind.
    const stalePath = join(dir, 'stale.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.ok(lstatSync(stalePath).isSocket(), 'the socket file is still there');
    const refused = await failure(postJson(stalePath, 'status', {}));
    assert.ok(refused instanceof IpcUnavailableError && refused.reason === 'ECONNREFUSED', String(refused));

    const closing = await rawServer((s) => s.end());
    const closed = await failure(postJson(closing, 'status', {}));
    assert.ok(closed instanceof IpcUnavailableError && closed.reason === 'connection closed', String(closed));

    const silent = await rawServer(() => undefined);
    const started = Date.now();
    const timedOut = await failure(postJson(silent, 'status', {}, 300));
    assert.ok(timedOut instanceof IpcUnavailableError && timedOut.reason === 'timed out', String(timedOut));
    assert.ok(Date.now() - started < 3000, 'the timeout is honoured');
  });

  test('a chunked answer, in pieces and with a chunk extension, is put together', async () => {
    const path = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
      s.write('5\r\n{"ok"\r\n');
      setTimeout(() => s.end('b;ext=1\r\n:true,"n":1\r\n1\r\n}\r\n0\r\n\r\n'), 20);
    });
    assert.deepEqual(await postJson(path, 'status', {}), { ok: true, n: 1 });
  });

  test('an answer framed by the end of the connection (no Content-Length), after an interim 100 Continue', async () => {
    const path = await rawServer((s) => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{"ok":1}'));
    assert.deepEqual(await postJson(path, 'status', {}), { ok: 1 });
  });

  test('an oversized chunked or unframed answer, and one that is not HTTP, are `protocol` errors', async () => {
    const big = 'y'.repeat(600 * 1024);
    const chunked = await rawServer((s) => s.end(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${[big, big].map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('')}0\r\n\r\n`));
    const e1 = await failure(postJson(chunked, 'status', {}));
    assert.ok(e1 instanceof IpcRemoteError && e1.code === 'protocol' && /oversized/.test(e1.message), String(e1));
    const unframed = await rawServer((s) => s.end(`HTTP/1.1 200 OK\r\n\r\n${big}${big}`));
    const e2 = await failure(postJson(unframed, 'status', {}));
    assert.ok(e2 instanceof IpcRemoteError && e2.code === 'protocol' && /oversized/.test(e2.message), String(e2));
    const notHttp = await rawServer((s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'));
    const e3 = await failure(postJson(notHttp, 'status', {}));
    assert.ok(e3 instanceof IpcRemoteError && e3.code === 'protocol', String(e3));
  });

  test('a window closing in the middle of an answer (short body, unfinished chunks, no head): `connection closed`', async () => {
    for (const partial of [
      'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"ok":',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"ok"\r\n',
      'HTTP/1.1 200 OK\r\ncontent-len',
    ]) {
      const path = await rawServer((s) => s.end(partial));
      const err = await failure(postJson(path, 'status', {}));
      assert.ok(err instanceof IpcUnavailableError && err.reason === 'connection closed', `${JSON.stringify(partial)}: ${String(err)}`);
    }
  });

  test('a window at its link cap answers 503 `busy` on connect and closes: busy (or the refused write), and the CLI retries until served', async () => {
    let refused = 0;
    const path = join(dir, `s${n++}.sock`);
    const server = createServer((socket) => {
      socket.on('error', () => undefined).resume(); // read to the client's end, so the link closes
      if (refused < 2) {
        refused++;
        // As jsonServer's link cap does: the answer at once, without reading the request.
        socket.end(answer(503, '{"error":{"code":"busy","message":"Too many connections."}}'));
        return;
      }
      socket.once('data', () => socket.end(answer(200, '{"accessToken":"t0k"}')));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const first = await failure(postJson(path, 'token', {}));
    assert.ok((first instanceof IpcRemoteError && first.code === ('busy' as string) && first.status === 503)
      || (first instanceof IpcUnavailableError && ['EPIPE', 'ECONNRESET'].includes(first.reason)), String(first));
    const saved = process.env.TOKENRELAY_SOCK;
    process.env.TOKENRELAY_SOCK = path;
    try {
      assert.deepEqual(await call('token', {}), { accessToken: 't0k' });
      assert.equal(refused, 2);
    } finally {
      if (saved === undefined) delete process.env.TOKENRELAY_SOCK;
      else process.env.TOKENRELAY_SOCK = saved;
    }
    // Busy for good: the CLI gives up with the window's message, as a usage-independent error.
    const always = await rawServer((s) => s.end(answer(503, '{"error":{"code":"busy","message":"Too many connections."}}')));
    process.env.TOKENRELAY_SOCK = always;
    try {
      const err = await failure(call('token', {}));
      assert.ok(err instanceof CliError && /Too many connections|closed the connection/.test(err.message), String(err));
    } finally {
      if (saved === undefined) delete process.env.TOKENRELAY_SOCK;
      else process.env.TOKENRELAY_SOCK = saved;
    }
  });
});

