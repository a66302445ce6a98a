// The loopback redirect listener against requests a hostile page can make the browser send: real HTTP
// requests to the real listener, codes and states from the real test IdP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { isTokenRelayError } from '../../src/core/errors.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { SCOPES } from '../harness/fixture.ts';
import { isListening, send, type Answer } from '../support/rawHttp.ts';

const BARE_400 = { status: 400, body: 'Bad request.\n' };

let idp: Idp;
let client: OAuthClient;
before(async () => {
  idp = await startIdp({ accessTokenTtl: 60 });
  client = new OAuthClient({ issuer: idp.issuer, clientId: idp.clientId, scopes: SCOPES });
});
after(async () => { await idp.close(); });

describe('loopback callback', () => {
  test('a forged state, a blind error, a rebound Host, a POST and a wrong path get a bare 400 and do not end the sign-in; the real redirect then completes it', async () => {
    idp.resetCounters();
    let settled = false;
    let port = '';
    const refused: Record<string, Answer> = {};
    const signingIn = signInWithLoopback(client, {
      openBrowser: async (url) => {
        // The attacker's code is bound to this very request (its PKCE challenge and nonce, as a page
        // that read them could arrange): only the state and Host checks keep it out.
        const attacker = new URL(await completeAuthorization(url, { login: 'attacker' }));
        const victim = await completeAuthorization(url, { login: 'victim' });
        port = attacker.port;
        const forged = new URL(attacker);
        forged.searchParams.set('state', 'forged-state');
        const wrongPath = new URL(victim);
        wrongPath.pathname = '/callback/';
        refused['forged state'] = await send(forged.href);
        refused['blind error=access_denied'] = await send(`http://127.0.0.1:${port}/callback?error=access_denied`);
        refused['rebound Host'] = await send(attacker.href, { host: `evil.example:${port}` });
        refused['POST'] = await send(victim, { method: 'POST' });
        refused['wrong path'] = await send(wrongPath.href);
        refused['no state'] = await send(`http://127.0.0.1:${port}/callback?code=${attacker.searchParams.get('code')}`);
        assert.equal(settled, false, 'no bad request ended the sign-in');
        const done = await send(victim);
        assert.equal(done.status, 200);
        assert.match(done.body, /Signed in to Token Relay/);
        assert.match(done.body, /signed in as <strong>victim<\/strong>/, 'the page names the account');
      },
    });
    void signingIn.finally(() => { settled = true; }).catch(() => undefined);
    const { account } = await signingIn;
    for (const [what, answer] of Object.entries(refused)) assert.deepEqual(answer, BARE_400, what);
    assert.equal(account.label, 'victim', 'signed in as the user, never as the attacker');
    assert.equal(idp.counters().authorizationCodeGrants, 1, 'no refused request reached the token endpoint');
    assert.equal(await isListening(port), false, 'the listener closes with the sign-in');
  });

  test('error=access_denied with the right state ends the sign-in with a clear message (Host localhost:<port> is accepted)', async () => {
    let page: Promise<Answer> | undefined;
    let port = '';
    const err = await signInWithLoopback(client, {
      openBrowser: async (url) => {
        const denied = new URL(await completeAuthorization(url, { abort: true }));
        port = denied.port;
        assert.equal(denied.searchParams.get('error'), 'access_denied');
        page = send(denied.href, { host: `localhost:${port}` });
        await page;
      },
    }).then(() => assert.fail('sign-in succeeded'), (e: unknown) => e);
    assert.ok(isTokenRelayError(err, 'idp-rejected'), String(err));
    assert.match(err.message, /The identity provider refused sign-in \(access_denied.*Sign-in was refused at the identity provider/);
    const shown = await page;
    assert.equal(shown?.status, 400);
    assert.match(shown?.body ?? '', /Sign-in did not complete.*refused sign-in \(access_denied/s);
    assert.equal(await isListening(port), false);
  });

  test('only bad requests: the sign-in waits until its timeout, then says so', async () => {
    let port = '';
    const err = await signInWithLoopback(client, {
      timeoutMs: 1500,
      openBrowser: async (url) => {
        port = new URL(new URL(url).searchParams.get('redirect_uri')!).port;
        assert.deepEqual(await send(`http://127.0.0.1:${port}/callback?error=access_denied`), BARE_400);
        assert.deepEqual(await send(`http://127.0.0.1:${port}/favicon.ico`), BARE_400);
      },
    }).then(() => assert.fail('sign-in succeeded'), (e: unknown) => e);
    assert.ok(isTokenRelayError(err, 'timeout'), String(err));
    assert.match(err.message, /timed out waiting for the browser/);
    assert.equal(await isListening(port), false);
  });
});
