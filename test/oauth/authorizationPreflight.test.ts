// A sign-in the server refuses outright ends at once, naming the setting, instead of waiting five
// minutes for a redirect that never comes (issue 18 §3). Against the real strict IdP (an unknown
// client gets oidc-provider's error page), a server that redirects back with error=, and pages a
// server may answer that must never stop a sign-in.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { preflightAuthorization } from '../../src/oauth/authorizationPreflight.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { SCOPES } from '../harness/fixture.ts';

let idp: Idp;
before(async () => { idp = await startIdp({ accessTokenTtl: 60 }); });
after(async () => { await idp.close(); });

describe('the real IdP', () => {
  test('an unknown clientId: ended before the browser opens, naming tokenrelay.clientId, well within 10 s', async () => {
    const client = new OAuthClient({ issuer: idp.issuer, clientId: 'no-such-client', scopes: SCOPES });
    let opened = false;
    const started = Date.now();
    const err = await signInWithLoopback(client, { openBrowser: () => { opened = true; } }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TokenRelayError, String(err));
    assert.match(err.message, /refused the sign-in request \(HTTP 400: .*invalid_client/);
    assert.match(err.fix ?? '', /tokenrelay\.clientId/);
    assert.equal(opened, false, 'the browser never showed the error page');
    assert.ok(Date.now() - started < 10_000);
  });

  test('a good client: the preflight lets it through, and the sign-in completes', async () => {
    const client = new OAuthClient({ issuer: idp.issuer, clientId: idp.clientId, scopes: SCOPES });
    const { account } = await signInWithLoopback(client, { openBrowser: async (url) => { await fetch(await completeAuthorization(url, { login: 'alice' })); } });
    assert.equal(account.label, 'alice');
  });
});

describe('answers that never stop a sign-in', () => {
  let server: Server;
  let base = '';
  const pages: Record<string, { status: number; body: string; location?: string }> = {
    '/login-page': { status: 200, body: '<form><input name=redirect_uri value="x"><p>invalid_client? never heard of it</p></form>' },
    '/login-redirect': { status: 302, body: '', location: 'https://idp.example.com/login?redirect_uri=x' },
    '/server-error': { status: 500, body: 'invalid_client' },
    '/unauthorized-no-code': { status: 401, body: '<title>Please log in</title>' },
    '/error-redirect': { status: 302, body: '', location: 'http://127.0.0.1:1/callback?error=invalid_scope&error_description=unknown+scope+no-such-scope&state=s' },
    '/refused': { status: 403, body: '<html><title>Error</title><p>redirect_uri not registered for this client</p>' },
  };
  before(async () => {
    server = createServer((req, res) => {
      const page = pages[new URL(req.url!, 'http://x').pathname];
      res.writeHead(page.status, page.location ? { location: page.location } : {}).end(page.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => { server.close(); });

  test('a login page, a redirect to a login page, a 5xx, a 401 without an OAuth error and no server at all', async () => {
    for (const path of ['/login-page', '/login-redirect', '/server-error', '/unauthorized-no-code']) {
      assert.equal(await preflightAuthorization(`${base}${path}`, 'http://127.0.0.1:1/callback'), undefined, path);
    }
    assert.equal(await preflightAuthorization('http://127.0.0.1:1/authorize', 'http://127.0.0.1:2/callback'), undefined, 'unreachable');
  });

  test('a redirect straight back with error=invalid_scope stops it, naming tokenrelay.scopes', async () => {
    const err = await preflightAuthorization(`${base}/error-redirect`, 'http://127.0.0.1:1/callback');
    assert.match(err?.message ?? '', /invalid_scope: unknown scope no-such-scope/);
    assert.match(err?.fix ?? '', /tokenrelay\.scopes/);
  });

  test('an error page that names a redirect problem stops it, naming the redirect', async () => {
    const err = await preflightAuthorization(`${base}/refused`, 'http://127.0.0.1:1/callback');
    assert.match(err?.message ?? '', /HTTP 403: .*redirect_uri/);
    assert.match(err?.fix ?? '', /redirect URI/);
  });
});
