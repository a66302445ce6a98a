// Opening IdP pages from a web workbench (code-server), whose openExternal drops the path and query
// of localhost URLs: a one-time 127.0.0.1 launcher page, reached through the workbench's port proxy,
// redirects to the full URL instead.
import './setup.ts';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { UIKind, fake } from './fake/vscode.ts';
import { World, browserErrors, idpSettings } from './helpers.ts';
import { BrowserOpener, isProxiedByWebWorkbench } from '../../src/vscode/browserOpener.ts';
import { silentLogger } from '../../src/core/redact.ts';
import { completeAuthorization } from '../idp/login.ts';
import { waitFor } from '../support/wait.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { isListening, send } from '../support/rawHttp.ts';
import { startPortProxy, type PortProxy } from './portProxy.ts';

/** The browser loading the opened launcher URL (through the port proxy) and following its redirect page. */
async function followLauncher(url: string): Promise<string> {
  const page = await send(url);
  const target = /http-equiv="refresh" content="0;url=([^"]+)"/.exec(page.body)?.[1];
  assert.ok(page.status === 200 && target, `launcher page has a redirect: ${page.status} ${page.body}`);
  return target.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c)));
}

let proxy: PortProxy;
before(async () => { proxy = await startPortProxy(); });
after(async () => { await proxy.close(); });

/** A fresh fake web workbench whose asExternalUri maps to the port proxy. */
function webWorkbench(): void {
  fake.reset();
  fake.uiKind = UIKind.Web;
  fake.asExternalUri = (url) => proxy.external(url);
}

describe('browser opener', () => {
  beforeEach(() => fake.reset());

  test('which URLs a web workbench would proxy', () => {
    assert.equal(isProxiedByWebWorkbench('http://127.0.0.1:8080/auth?x=1'), true);
    assert.equal(isProxiedByWebWorkbench('http://localhost:3000/'), true);
    assert.equal(isProxiedByWebWorkbench('https://login.example.com/auth'), false);
    assert.equal(isProxiedByWebWorkbench('http://127.0.0.1/auth'), false, 'no port: not proxied');
    assert.equal(isProxiedByWebWorkbench('not a url'), false);
  });

  test('desktop: URLs are opened as they are', async () => {
    const opener = new BrowserOpener(silentLogger, false);
    assert.equal(await opener.open('http://127.0.0.1:9/auth?a=b'), true);
    assert.deepEqual(fake.opened, ['http://127.0.0.1:9/auth?a=b']);
    opener.dispose();
  });

  test('web: a remote IdP is opened directly; a localhost one through a one-time launcher page behind the port proxy', async () => {
    webWorkbench();
    const opener = new BrowserOpener(silentLogger, true);
    await opener.open('https://login.example.com/auth?a=b');
    assert.equal(fake.opened[0], 'https://login.example.com/auth?a=b');
    const target = 'http://127.0.0.1:9/auth?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback&state=s3cr3t-state&scope=openid+profile';
    await opener.open(target);
    const launcher = fake.opened[1]!;
    const [, port, secret] = new RegExp(`^${proxy.origin}/proxy/(\\d+)/([\\w-]+)$`).exec(launcher) ?? [];
    assert.ok(port && secret, `opened through the port proxy at a secret path: ${launcher}`);
    assert.ok(Buffer.from(secret, 'base64url').length >= 16, 'the path carries at least 128 random bits');
    const direct = `http://127.0.0.1:${port}/${secret}`;

    const refused = {
      'rebound Host (through the proxy)': [await send(launcher, { host: `evil.example:${new URL(proxy.origin).port}` }), 400],
      'rebound Host (direct)': [await send(direct, { host: `evil.example:${port}` }), 400],
      'no path (what a path-dropping proxy forwards)': [await send(`${proxy.origin}/proxy/${port}/`), 404],
      'wrong path': [await send(`${direct}x`), 404],
      'another path': [await send(`http://127.0.0.1:${port}/some/proxied/path`), 404],
      'POST': [await send(launcher, { method: 'POST' }), 405],
    } as const;
    for (const [what, [answer, status]] of Object.entries(refused)) {
      assert.equal(answer.status, status, what);
      assert.ok(!answer.body.includes('s3cr3t-state') && !answer.body.includes('/auth'), `${what}: nothing of the authorization request`);
    }
    assert.equal(await followLauncher(launcher), target, 'the one use, through the proxy, redirects with path and query');
    const second = await send(launcher);
    assert.equal(second.status, 410, 'second use: gone');
    assert.match(second.body, /already used/);
    assert.ok(!second.body.includes('s3cr3t-state'));
    assert.equal((await send(direct)).status, 410, 'gone by any route');
    opener.dispose();
    await waitFor('the launcher to close', 2000, async () => !(await isListening(port)));
  });

  test('web without a port proxy (asExternalUri unchanged): the launcher is opened directly at its secret path', async () => {
    fake.reset();
    const opener = new BrowserOpener(silentLogger, true);
    await opener.open('http://localhost:9/auth?x=1');
    const launcher = fake.opened[0]!;
    assert.match(launcher, /^http:\/\/127\.0\.0\.1:\d+\/[\w-]{43}$/);
    assert.equal((await send(launcher, { host: `localhost:${new URL(launcher).port}` })).status, 200, 'Host localhost:<port> is its own too');
    opener.dispose();
  });
});

describe('sign-in from a web workbench (code-server behaviour)', () => {
  let idp: Idp;
  let world: World;
  before(async () => { idp = await startIdp(); });
  after(async () => { await world?.close(); await idp.close(); });

  test('loopback sign-in works although openExternal drops the authorization URL\'s path', async () => {
    webWorkbench();
    fake.remoteName = new URL(proxy.origin).host;
    fake.setSettings(idpSettings(idp, { 'tokenrelay.signInFlow': 'auto' }));
    world = new World('isolated');
    const win = await world.openWindow();
    fake.openExternal = (url) => {
      void (async () => {
        const authorization = await followLauncher(url);
        await fetch(await completeAuthorization(authorization, { login: 'web-user' }));
      })().catch((err) => browserErrors.push(String(err)));
      return true;
    };
    const session = await win.provider.createSession(['openid'], {});
    assert.deepEqual(browserErrors, []);
    assert.equal(session.account.label, 'web-user');
    assert.equal(win.item.text, '$(key) web-user');
    const launcherPort = /\/proxy\/(\d+)\//.exec(fake.opened[0]!)?.[1];
    assert.ok(launcherPort, `opened through the port proxy: ${fake.opened[0]}`);
    await waitFor('the launcher to close after sign-in', 2000, async () => !(await isListening(launcherPort)));
  });
});
