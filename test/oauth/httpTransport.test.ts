// The HTTP transport under oauth4webapi: node's http client, failing the way the global fetch does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeFetch } from '../../src/oauth/httpTransport.ts';
import { classifyOAuthError } from '../../src/oauth/errors.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { startIdp } from '../idp/server.ts';
import { completeAuthorization } from '../idp/login.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { SCOPES } from '../harness/fixture.ts';

const servers: { close(): unknown }[] = [];
after(async () => { for (const s of servers) await s.close(); });

async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); } });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const form = (fields: Record<string, string>) => ({
  method: 'POST', redirect: 'manual' as const, body: new URLSearchParams(fields),
  headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
});

test('sign-in, discovery and refresh run without the global fetch', async () => {
  const idp = await startIdp({ accessTokenTtl: 60 });
  servers.push(idp);
  const client = new OAuthClient({ issuer: idp.issuer, clientId: idp.clientId, scopes: SCOPES });
  const original = globalThis.fetch;
  const viaGlobal: string[] = [];
  // The test's headless browser (the sign-in pages) uses the global fetch; the client must not.
  globalThis.fetch = ((...args: Parameters<typeof fetch>) => {
    const url = String(args[0] instanceof Request ? args[0].url : args[0]);
    if (/\/\.well-known\/|\/token$|\/me$/.test(url)) viaGlobal.push(url);
    return original(...args);
  }) as typeof fetch;
  try {
    const { tokens } = await signInWithLoopback(client, { openBrowser: async (url) => { await original(await completeAuthorization(url)); } });
    const next = await client.refresh(tokens.refreshToken!, AbortSignal.timeout(5000));
    assert.notEqual(next.refreshToken, tokens.refreshToken, 'rotated');
    assert.equal((await idp.introspect(next.accessToken)).active, true);
  } finally {
    globalThis.fetch = original;
  }
  assert.deepEqual(viaGlobal, [], 'every OAuth request went through node:http');
});

test('status, headers and a form body make the round trip; 204 has no body', async () => {
  const base = await serve((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (req.url === '/empty') return void res.writeHead(204).end();
      res.writeHead(400, { 'content-type': 'application/json', 'x-seen': req.headers['content-type'] ?? '' });
      res.end(JSON.stringify({ method: req.method, body }));
    });
  });
  const response = await nodeFetch(`${base}/token`, form({ grant_type: 'refresh_token', refresh_token: 'abc déf' }));
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('x-seen'), 'application/x-www-form-urlencoded;charset=UTF-8');
  assert.deepEqual(await response.json(), { method: 'POST', body: 'grant_type=refresh_token&refresh_token=abc+d%C3%A9f' });
  const empty = await nodeFetch(`${base}/empty`, { method: 'GET', redirect: 'manual', headers: {}, body: undefined });
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
});

test('network failures reject like fetch and classify as offline, naming the cause', async () => {
  const refusedAt = await serve(() => undefined);
  await servers.pop()!.close(); // nobody listens on that port any more
  const refused = await nodeFetch(`${refusedAt}/token`, form({})).then(() => assert.fail('no server'), (err: unknown) => err);
  assert.ok(refused instanceof TypeError && refused.message === 'fetch failed');
  const classified = classifyOAuthError(refused, 'the token refresh');
  assert.equal(classified.code, 'offline');
  assert.match(classified.message, /ECONNREFUSED during the token refresh/);

  const cut = await serve((req, res) => { res.writeHead(200, { 'content-length': '100' }); res.write('{"partial":'); setImmediate(() => req.socket.destroy()); });
  const half = await nodeFetch(`${cut}/token`, form({})).then(() => assert.fail('cut off'), (err: unknown) => err);
  assert.equal(classifyOAuthError(half, 'the token refresh').code, 'offline');

  const huge = await serve((_req, res) => { res.writeHead(200); res.end(Buffer.alloc(2 * 1024 * 1024, 'a')); });
  const big = await nodeFetch(`${huge}/token`, form({})).then(() => assert.fail('too large'), (err: unknown) => err);
  assert.match(String((big as Error & { cause?: Error }).cause?.message), /larger than 1048576 bytes/);
});

test('the signal bounds the request: a server that never answers times out', async () => {
  const silent = await serve(() => undefined);
  const started = Date.now();
  const err = await nodeFetch(`${silent}/token`, { ...form({}), signal: AbortSignal.timeout(200) }).then(() => assert.fail('no answer'), (e: unknown) => e);
  assert.equal((err as Error).name, 'TimeoutError');
  assert.ok(Date.now() - started < 5000);
  assert.match(classifyOAuthError(err, 'the token refresh').message, /timed out during the token refresh/);
});
