// Opening IdP pages from a web workbench (code-server), whose openExternal drops the path and query
// of localhost URLs: a 127.0.0.1 launcher page redirects to the full URL instead.
import './setup.ts';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { UIKind, fake } from './fake/vscode.ts';
import { World, browserErrors, idpSettings } from './helpers.ts';
import { BrowserOpener, isProxiedByWebWorkbench } from '../../src/vscode/browserOpener.ts';
import { silentLogger } from '../../src/core/redact.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';

/** What code-server does with openExternal('http://127.0.0.1:N/any?query'): loads /proxy/N/ → 127.0.0.1:N/ */
async function viaPortProxy(url: string): Promise<string> {
  const u = new URL(url);
  const page = await (await fetch(`http://${u.host}/`)).text();
  const target = /http-equiv="refresh" content="0;url=([^"]+)"/.exec(page)?.[1];
  assert.ok(target, `launcher page has a redirect: ${page}`);
  return target.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c)));
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

  test('web: a remote IdP is opened directly; a localhost one through a launcher that redirects with path and query', async () => {
    const opener = new BrowserOpener(silentLogger, true);
    await opener.open('https://login.example.com/auth?a=b');
    assert.equal(fake.opened[0], 'https://login.example.com/auth?a=b');
    const target = 'http://127.0.0.1:9/auth?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback&scope=openid+profile';
    await opener.open(target);
    const launcher = fake.opened[1]!;
    assert.match(launcher, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(await viaPortProxy(launcher), target);
    const anyPath = await (await fetch(`${launcher}some/proxied/path`)).text();
    assert.ok(anyPath.includes('location.replace("http://127.0.0.1:9/auth?client_id=c'), 'any path gets the redirect');
    assert.equal((await fetch(launcher, { method: 'POST' })).status, 405);
    opener.dispose();
    await assert.rejects(fetch(launcher), 'the launcher is closed with the sign-in');
  });
});

describe('sign-in from a web workbench (code-server behaviour)', () => {
  let idp: Idp;
  let world: World;
  before(async () => { idp = await startIdp(); });
  after(async () => { await world?.close(); await idp.close(); });

  test('loopback sign-in works although openExternal drops the authorization URL\'s path', async () => {
    fake.reset();
    fake.uiKind = UIKind.Web;
    fake.remoteName = '127.0.0.1:8080';
    fake.setSettings(idpSettings(idp, { 'tokenrelay.signInFlow': 'auto' }));
    world = new World('isolated');
    const win = await world.openWindow();
    fake.openExternal = (url) => {
      void (async () => {
        const authorization = await viaPortProxy(url);
        await fetch(await completeAuthorization(authorization, { login: 'web-user' }));
      })().catch((err) => browserErrors.push(String(err)));
      return true;
    };
    const session = await win.provider.createSession(['openid'], {});
    assert.deepEqual(browserErrors, []);
    assert.equal(session.account.label, 'web-user');
    assert.equal(win.item.text, '$(pass) web-user');
    await assert.rejects(fetch(fake.opened[0]!), 'launcher closed after sign-in');
  });
});
