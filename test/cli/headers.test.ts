// Header helpers: `tokenrelay token --format header | curl -H @-` and `--format json-headers`
// against a local API that checks the bearer token by introspection at the test IdP.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { cliBundle, runCli, runChild, startWindow, type TestWindow } from './support.ts';

let world: World;
let win: TestWindow;
let api: Server;
let apiUrl: string;
const accepted: string[] = [];

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world);
  api = createServer((req, res) => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    void (token ? world.idp.introspect(token) : Promise.resolve({ active: false, sub: undefined })).then((info) => {
      if (!info.active) {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
        return;
      }
      accepted.push(token!);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${String(info.sub)}\n`);
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/whoami`;
});

after(async () => {
  await new Promise((resolve) => api?.close(resolve));
  await win?.close();
  await world?.close();
});

const current = async () => (await win.service.getToken()).accessToken;

describe('token --format', () => {
  test('header: one "Authorization: Bearer" line that real curl sends with -H @-', async () => {
    const token = await current();
    const printed = await runCli(win.server.socketPath, ['token', '--format', 'header']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, `Authorization: Bearer ${token}\n`);

    const env = { ...process.env, PATH: `${(await cliBundle()).binDir}${delimiter}${process.env.PATH}`, TOKENRELAY_SOCK: win.server.socketPath };
    const curl = await runChild('/bin/sh', ['-c', `tokenrelay token --format header | curl -sS --fail -H @- ${apiUrl}`], { env });
    assert.equal(curl.code, 0, curl.stderr);
    assert.equal(curl.stdout, 'hello alice\n');
    assert.equal(accepted.at(-1), token);
    const without = await runChild('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', apiUrl], { env });
    assert.equal(without.stdout, '401', 'the API does check the header');
  });

  test('json-headers: {"Authorization":"Bearer …"}, the shape headers-helper commands print', async () => {
    const token = await current();
    const r = await runCli(win.server.socketPath, ['token', '--format=json-headers']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `{"Authorization":"Bearer ${token}"}\n`);
    const headers = JSON.parse(r.stdout) as Record<string, string>;
    const res = await fetch(apiUrl, { headers });
    assert.equal(res.status, 200);
  });

  test('token (the default) prints the bare token', async () => {
    const r = await runCli(win.server.socketPath, ['token']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${await current()}\n`);
  });

  test('an unknown format is a usage error naming the valid ones; nothing is asked of the window', async () => {
    world.idp.resetCounters();
    const before = win.handled.length;
    const r = await runCli(win.server.socketPath, ['token', '--format', 'yaml']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'tokenrelay: Unknown --format "yaml"; use one of token, header, json-headers. Run "tokenrelay token --help" for usage.\n');
    assert.equal(win.handled.length, before, 'the window was not called');
    assert.equal(world.idp.counters().tokensIssued, 0);
  });
});
