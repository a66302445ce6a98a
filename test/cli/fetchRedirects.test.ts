// `tokenrelay fetch -L` follows redirects the way curl does: two origins (two local servers on two
// ports) and an https one record what reaches them. Another origin gets no token, no -H header
// and no body; a 307/308 that would re-send the body elsewhere and an https -> http downgrade are
// refused by name; --location-trusted opts back in. A 401 from an origin that never received the
// token is not reported (the IdP's refresh counter does not move).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { runCli, startWindow, type TestWindow } from './support.ts';

interface Seen { origin: string; path: string; method: string; headers: IncomingMessage['headers']; body: string }

let world: World;
let win: TestWindow;
let seen: Seen[] = [];
const servers: { close(cb: () => void): unknown; closeAllConnections(): void }[] = [];
let A = ''; // the original origin
let B = ''; // another origin (same host, another port)
let S = ''; // an https origin
let caFile = '';

/** Redirect routes: /<status>/<target origin letter>/<path>; /echo records; /deny answers 401. */
function handler(origin: () => string) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => {
      const path = req.url ?? '/';
      seen.push({ origin: origin(), path, method: req.method ?? '', headers: req.headers, body });
      const hop = /^\/(30[12378])\/([ABSR])(\/.*)$/.exec(path);
      if (hop) return res.writeHead(Number(hop[1]), { location: `${{ A, B, S, R: 'http://remote.invalid' }[hop[2] as 'A' | 'B' | 'S' | 'R']}${hop[3]}` }).end();
      if (path === '/echo-header') return res.writeHead(200, { 'x-seen-authorization': req.headers.authorization ?? '' }).end('ok');
      if (path === '/deny') return res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end('denied');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${origin()} ${req.method} ${body}`);
    });
  };
}

async function listen(server: ReturnType<typeof createHttp> | ReturnType<typeof createHttps>, scheme: string, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `${scheme}://${host}:${(server.address() as { port: number }).port}`;
}

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world);
  A = await listen(createHttp(handler(() => A)), 'http', '127.0.0.1');
  B = await listen(createHttp(handler(() => B)), 'http', '127.0.0.1');
  const key = join(world.dir, 'tls.key');
  caFile = join(world.dir, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', caFile, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  S = await listen(createHttps({ key: readFileSync(key), cert: readFileSync(caFile) }, handler(() => S)), 'https', 'localhost');
});

after(async () => {
  for (const s of servers) { s.closeAllConnections(); await new Promise<void>((r) => s.close(() => r())); }
  await win?.close();
  await world?.close();
});

const current = async () => (await win.service.getToken()).accessToken;
const fetchCli = (args: string[]) => runCli(win.server.socketPath, ['fetch', ...args], { env: { NODE_EXTRA_CA_CERTS: caFile } });
const at = (origin: string) => seen.filter((s) => s.origin === origin);
const USER_HEADERS = ['-H', 'Cookie: session=secret-cookie', '-H', 'X-Api-Key: secret-key', '-H', 'Proxy-Authorization: Basic c2VjcmV0'];

describe('fetch -L to another origin', () => {
  test('a GET redirected elsewhere reaches it without the token, cookies or any -H header', async () => {
    seen = [];
    const token = await current();
    const r = await fetchCli(['-L', `${A}/302/B/echo`, ...USER_HEADERS]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${B} GET `);
    const [first] = at(A);
    assert.equal(first.headers.authorization, `Bearer ${token}`);
    assert.equal(first.headers.cookie, 'session=secret-cookie', 'the original origin gets the user headers');
    const [second] = at(B);
    for (const name of ['authorization', 'cookie', 'x-api-key', 'proxy-authorization']) assert.equal(second.headers[name], undefined, name);
    assert.ok(!JSON.stringify(second.headers).includes(token));
  });

  test('POST 307/308 elsewhere: refused by name, nothing reaches the other origin (within the origin the body is kept); 301/302/303 become a GET without the body', async () => {
    for (const status of [307, 308]) {
      seen = [];
      const r = await fetchCli(['-L', `${A}/${status}/B/echo`, '-d', 'secret-body', ...USER_HEADERS]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`redirected \\(${status}\\) to ${B.replace(/[.]/g, '\\.')} and asks for the request body again: it is not sent to another origin\\. .*--location-trusted`));
      assert.deepEqual(at(B), [], `${status}: the other origin received nothing`);
      assert.equal(at(A)[0].body, 'secret-body');
    }
    // Within the original origin a 307 keeps everything, as curl does.
    seen = [];
    const token = await current();
    const same = await fetchCli(['-L', `${A}/307/A/echo`, '-d', 'kept', ...USER_HEADERS]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, `${A} POST kept`);
    assert.equal(at(A).at(-1)!.headers.authorization, `Bearer ${token}`);
    assert.equal(at(A).at(-1)!.headers['x-api-key'], 'secret-key');
    for (const status of [301, 302, 303]) {
      seen = [];
      const r = await fetchCli(['-L', `${A}/${status}/B/echo`, '-d', 'secret-body', '-H', 'Content-Type: text/plain']);
      assert.equal(r.code, 0, r.stderr);
      const [second] = at(B);
      assert.ok(second, `${status}: ${r.stdout} ${r.stderr} ${JSON.stringify(seen)}`);
      assert.equal(second.method, 'GET', `${status}`);
      assert.equal(second.body, '');
      assert.equal(second.headers['content-type'], undefined);
      assert.equal(second.headers.authorization, undefined);
    }
  });

  test('https -> http is never followed, even to loopback; nothing reaches the http origin', async () => {
    seen = [];
    const r = await fetchCli(['-L', `${S}/302/B/echo`, ...USER_HEADERS]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /redirected \(302\) to http:\/\/127\.0\.0\.1:\d+, from https to plain http: not followed\. Use the https URL, or pass --location-trusted/);
    assert.equal(at(S).length, 1, 'the https origin was asked');
    assert.deepEqual(at(B), []);
  });
});

describe('fetch --location-trusted', () => {
  test('sends the token, the headers and the 307 body to the other origin, and follows https -> http (loopback)', async () => {
    seen = [];
    const token = await current();
    const r = await fetchCli(['--location-trusted', `${A}/307/B/echo`, '-d', 'trusted-body', ...USER_HEADERS]);
    assert.equal(r.code, 0, r.stderr);
    const [second] = at(B);
    assert.equal(second.body, 'trusted-body');
    assert.equal(second.headers.authorization, `Bearer ${token}`);
    assert.equal(second.headers.cookie, 'session=secret-cookie');
    seen = [];
    const down = await fetchCli(['--location-trusted', `${S}/302/B/echo`]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(at(B)[0].headers.authorization, `Bearer ${token}`);
    // Plain http to a remote host would carry the token unencrypted: that still takes --allow-http.
    const remote = await fetchCli(['--location-trusted', `${S}/302/R/echo`]);
    assert.equal(remote.code, 1);
    assert.match(remote.stderr, /redirected \(302\) to http:\/\/remote\.invalid: --location-trusted would send the token over plain http\. Pass --allow-http/);
  });
});

describe('a 401 from an origin that never received the token', () => {
  test('is not reported: no refresh, no retry, and the message says why', async () => {
    seen = [];
    world.idp.resetCounters();
    const token = await current();
    const r = await fetchCli(['-L', `${A}/302/B/deny`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'denied');
    assert.match(r.stderr, /HTTP 401 Unauthorized from http:\/\/127\.0\.0\.1:\d+\/deny; that origin never received the token, which goes only to http:\/\/127\.0\.0\.1:\d+ \(see --location-trusted\)/);
    assert.equal(world.idp.counters().refreshGrants, 0, 'the IdP was not asked for a refresh');
    assert.equal(at(A).length + at(B).length, 2, 'no retry');
    assert.equal(await current(), token);
  });

  test('with --location-trusted the other origin did receive it: its 401 is reported and retried once', async () => {
    seen = [];
    world.idp.resetCounters();
    const token = await current();
    const r = await fetchCli(['--location-trusted', `${A}/302/B/deny`]);
    assert.equal(r.code, 1);
    assert.equal(world.idp.counters().refreshGrants, 1);
    assert.equal(at(B).length, 2, 'one call and one retry');
    assert.notEqual(at(B)[1].headers.authorization, `Bearer ${token}`);
  });
});

describe('fetch -i', () => {
  test('response headers on stderr pass the redactor: a server echoing the token shows it masked', async () => {
    const r = await runCli(win.server.socketPath, ['fetch', '-i', `${A}/echo-header`]);
    assert.equal(r.code, 0, r.stderr);
    const token = (await win.service.getToken()).accessToken;
    assert.match(r.stderr, /x-seen-authorization: Bearer \[redacted/);
    assert.ok(!r.stderr.includes(token), 'the token appears on stderr');
  });
});
