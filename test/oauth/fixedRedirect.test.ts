// tokenrelay.redirectUri: for servers that match redirect URIs exactly, port included (glewlwyd, some
// enterprise IdPs). The test IdP's EXACT_CLIENT_ID is registered that way: a random port is refused,
// the configured one signs in. A taken port is said to be taken, and the fix offers device code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { parseRedirectUri } from '../../src/oauth/redirectUri.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { profileSettings } from '../../src/app/configFile.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { EXACT_CLIENT_ID } from '../idp/config.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { isListening } from '../support/rawHttp.ts';
import { freePort } from '../support/freePort.ts';


let idp: Idp;
let port: number;
let exact: string;
let exactLocalhost: string;
before(async () => {
  port = await freePort();
  exact = `http://127.0.0.1:${port}/oauth/exact-callback`;
  exactLocalhost = `http://localhost:${port}/cb`;
  idp = await startIdp({ exactRedirectUris: [exact, exactLocalhost] });
});
after(async () => { await idp.close(); });

const clientWith = (redirectUri?: string) => new OAuthClient({ issuer: idp.issuer, clientId: EXACT_CLIENT_ID, scopes: ['openid', 'offline_access'], redirectUri });

describe('tokenrelay.redirectUri: validation', () => {
  test('loopback only, with an explicit port; each mistake is named with the fix', () => {
    assert.deepEqual(parseRedirectUri('http://127.0.0.1:8765/callback'), { uri: 'http://127.0.0.1:8765/callback', host: '127.0.0.1', port: 8765, path: '/callback' });
    assert.equal(parseRedirectUri('http://localhost:80/').port, 80, 'an explicit default port is kept, as the server registered it');
    const cases: [string, RegExp][] = [
      ['not a url', /is not a URL/],
      ['https://127.0.0.1:8765/cb', /must use http/],
      ['http://192.168.1.5:8765/cb', /must be on 127\.0\.0\.1 or localhost/],
      ['http://[::1]:8765/cb', /must be on 127\.0\.0\.1 or localhost/],
      ['http://127.0.0.1/cb', /must name its port/],
      ['http://user:pw@127.0.0.1:8765/cb', /user name or password/],
      ['http://127.0.0.1:8765/cb?x=1', /query or fragment/],
    ];
    for (const [value, says] of cases) {
      assert.throws(() => parseRedirectUri(value), (err: unknown) => {
        assert.ok(err instanceof TokenRelayError && err.code === 'config');
        assert.match(err.message, says, value);
        assert.match(err.message, /tokenrelay\.redirectUri ".*".*registered for this client.*http:\/\/127\.0\.0\.1:8765\/callback/);
        return true;
      });
    }
  });

  test('read by the settings and by the CLI\'s configuration file; a bad value is a settings problem', () => {
    const base = { issuer: 'https://idp.example', clientId: 'c' };
    const ok = parseSettings((k) => ({ ...base, redirectUri: ' http://127.0.0.1:8765/callback ' })[k]);
    assert.ok(ok.ok);
    assert.equal(ok.settings.oauth.redirectUri, 'http://127.0.0.1:8765/callback');
    assert.ok(parseSettings((k) => ({ ...base, redirectUri: '' })[k]).ok, 'empty = a random port');
    const bad = parseSettings((k) => ({ ...base, redirectUri: 'http://example.com:1/cb' })[k]);
    assert.ok(!bad.ok && /tokenrelay\.redirectUri/.test(bad.problem.message));
    const file = { path: '/x/config.json', exists: true, profiles: { work: { ...base, redirectUri: 'http://localhost:9000/cb' } } };
    const fromFile = profileSettings(file, 'work');
    assert.ok(fromFile.ok);
    assert.equal(fromFile.settings.oauth.redirectUri, 'http://localhost:9000/cb');
  });
});

describe('tokenrelay.redirectUri: sign-in at a server that matches exactly', () => {
  test('without it, the server refuses the random port; with it, the sign-in listens there and completes', async () => {
    idp.resetCounters();
    // A random port is not the registered redirect: the server's refusal is seen before any browser opens.
    let opened = false;
    const refused = signInWithLoopback(clientWith(), {
      timeoutMs: 5000,
      openBrowser: () => { opened = true; throw new Error('browser closed'); },
    });
    await assert.rejects(refused, (err: Error) => /redirect_uri/.test(err.message) && /tokenrelay\.redirectUri/.test(err.message));
    assert.equal(opened, false, 'the browser never showed the error page');

    let seenRedirect = '';
    const { account } = await signInWithLoopback(clientWith(exact), {
      openBrowser: async (url) => {
        seenRedirect = new URL(url).searchParams.get('redirect_uri') ?? '';
        assert.equal(await isListening(String(port)), true, 'the listener is on the configured port');
        const callback = await completeAuthorization(url);
        assert.ok(callback.startsWith(`${exact}?`), 'the server sent the browser back to exactly the configured redirect');
        await fetch(callback);
      },
    });
    assert.equal(seenRedirect, exact);
    assert.equal(account.id, 'test-user');
    assert.equal(idp.counters().authorizationCodeGrants, 1);
    assert.equal(await isListening(String(port)), false, 'the listener closes with the sign-in');
  });

  test('a localhost redirect: the browser may resolve localhost to 127.0.0.1 or ::1, both answer', async () => {
    const { account } = await signInWithLoopback(clientWith(exactLocalhost), {
      openBrowser: async (url) => { await fetch(await completeAuthorization(url)); },
    });
    assert.equal(account.id, 'test-user');
  });

  test('a localhost redirect whose port another program holds on ::1 only: refused like a taken port (that program would get the redirect)', async () => {
    const squatter: Server = createServer((_req, res) => res.end('someone else'));
    await new Promise<void>((resolve) => squatter.listen(port, '::1', resolve));
    try {
      const err = await signInWithLoopback(clientWith(exactLocalhost), { openBrowser: () => undefined }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof TokenRelayError, String(err));
      assert.match(err.message, new RegExp(`Port ${port} of tokenrelay\\.redirectUri \\(${exactLocalhost.replace(/[.]/g, '\\.')}\\) is in use`));
      assert.equal(await isListening(String(port)), false, 'the 127.0.0.1 listener was closed again');
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  test('the port is taken: the sign-in says so, names the setting, offers device code, and opens no browser', async () => {
    const squatter: Server = createServer((_req, res) => res.end('someone else'));
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      let opened = false;
      const err = await signInWithLoopback(clientWith(exact), { openBrowser: () => { opened = true; } }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof TokenRelayError, String(err));
      assert.equal(err.code, 'config');
      assert.equal(err.message, `Port ${port} of tokenrelay.redirectUri (${exact}) is in use by another program (or another sign-in), so the browser sign-in cannot receive its answer. `
        + 'Free the port and try again, or sign in with a device code instead (in a terminal: tokenrelay sign-in --device); '
        + 'changing tokenrelay.redirectUri needs the same change in the client\'s registration at the identity provider.');
      assert.equal(opened, false);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
});
