// The IPC client on node:http against windows that misbehave (raw servers on a unix socket): each
// failure keeps its class and reason, which the CLI maps to exit codes and messages.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IpcRemoteError, IpcUnavailableError, postJson } from '../../src/ipc/jsonClient.ts';

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

describe('postJson over node:http', () => {
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
});
