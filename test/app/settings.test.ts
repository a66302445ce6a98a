// Settings validation (every problem is one readable message naming the setting and the fix) and
// slot keys. No fake `vscode`: this layer does not import it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSettings, type SettingsResult } from '../../src/app/settings.ts';
import { identityOf, secretKeyOf, slotKeyOf } from '../../src/app/slots.ts';

const parse = (values: Record<string, unknown>): SettingsResult => parseSettings((key) => values[key]);
const ok = { issuer: 'https://login.example.com/realms/dev', clientId: 'my-client' };

function problemOf(values: Record<string, unknown>): string {
  const result = parse(values);
  assert.equal(result.ok, false, `expected a problem for ${JSON.stringify(values)}`);
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.problem.code, 'config');
  assert.doesNotMatch(result.problem.message, /\n\s+at /, 'no stack trace');
  return result.problem.message;
}

describe('settings', () => {
  test('a valid issuer + client id gives the OAuth config with defaults', () => {
    const result = parse(ok);
    assert.ok(result.ok);
    assert.deepEqual(result.settings.oauth, {
      issuer: ok.issuer, endpoints: undefined, clientId: 'my-client', scopes: ['openid', 'profile', 'offline_access'], defaultScopes: true, resource: undefined,
    });
    assert.equal(result.settings.signInFlow, 'auto');
    assert.equal(result.settings.refreshSkewMs, 60_000);
    assert.equal(result.settings.reuseGraceMs, 0, 'strict by default');
    assert.deepEqual(result.settings.identity, { issuer: ok.issuer, clientId: 'my-client' });
    const graced = parse({ ...ok, refreshTokenReuseGraceSeconds: 30 });
    assert.ok(graced.ok);
    assert.equal(graced.settings.reuseGraceMs, 30_000);
  });

  test('nothing set is reported as "not configured" with what to set', () => {
    const result = parse({});
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.unconfigured, true);
    assert.match(result.problem.message, /not configured/);
    assert.match(result.problem.message, /tokenrelay\.issuer/);
    assert.match(result.problem.message, /tokenrelay\.clientId/);
  });

  test('each invalid value names its setting and the fix', () => {
    assert.match(problemOf({ issuer: ok.issuer }), /tokenrelay\.clientId is not set\. Set it to the client id/);
    assert.match(problemOf({ clientId: 'c' }), /Neither tokenrelay\.issuer nor tokenrelay\.endpoints\.token is set/);
    assert.match(problemOf({ ...ok, issuer: 'http://login.example.com' }), /tokenrelay\.issuer must use https/);
    assert.match(problemOf({ ...ok, issuer: 'not a url' }), /tokenrelay\.issuer is not a valid URL/);
    assert.match(problemOf({ ...ok, issuer: 42 }), /tokenrelay\.issuer must be a string/);
    assert.match(problemOf({ ...ok, scopes: 'openid profile' }), /tokenrelay\.scopes must be a list of strings/);
    assert.match(problemOf({ ...ok, scopes: ['openid profile'] }), /tokenrelay\.scopes contains "openid profile"/);
    assert.match(problemOf({ ...ok, signInFlow: 'popup' }), /tokenrelay\.signInFlow "popup" is not a sign-in flow\. Use "auto", "loopback" or "deviceCode"/);
    assert.match(problemOf({ ...ok, refreshSkewSeconds: -5 }), /tokenrelay\.refreshSkewSeconds must be a number of seconds, 0 or more \(got -5\)/);
    assert.match(problemOf({ ...ok, refreshTokenReuseGraceSeconds: '30' }), /tokenrelay\.refreshTokenReuseGraceSeconds must be a number of seconds from 0 to 86400 \(got "30"\).*Okta: the grace period/);
    assert.match(problemOf({ ...ok, refreshTokenReuseGraceSeconds: -1 }), /refreshTokenReuseGraceSeconds must be a number/);
    assert.match(problemOf({ ...ok, resource: 'just words' }), /tokenrelay\.resource "just words" is not an absolute URI/);
    assert.match(problemOf({ ...ok, endpoints: 'https://x' }), /tokenrelay\.endpoints must be an object/);
    assert.match(problemOf({ ...ok, endpoints: { tokn: 'https://x/token' } }), /tokenrelay\.endpoints\.tokn is not a known endpoint/);
    assert.match(problemOf({ clientId: 'c', endpoints: { token: 'https://x/token' } }), /tokenrelay\.endpoints has no way to sign in.*authorization.*deviceAuthorization/);
    assert.match(problemOf({ clientId: 'c', endpoints: { token: 'https://x/token', authorization: 'ftp://x/auth' } }), /tokenrelay\.endpoints\.authorization must use https/);
  });

  test('explicit endpoints without discovery are accepted; the token endpoint is the identity', () => {
    const result = parse({ clientId: 'c', endpoints: { token: 'https://x.example/token', authorization: 'https://x.example/auth' } });
    assert.ok(result.ok);
    assert.equal(result.settings.oauth.endpoints?.token, 'https://x.example/token');
    assert.equal(result.settings.identity.issuer, 'https://x.example/token');
  });

  test('plain http is accepted for a loopback issuer (local or test IdP)', () => {
    assert.ok(parse({ ...ok, issuer: 'http://127.0.0.1:8080' }).ok);
  });

  test('scopes are trimmed and de-duplicated', () => {
    const result = parse({ ...ok, scopes: ['openid', ' api:read ', 'openid'] });
    assert.ok(result.ok);
    assert.deepEqual(result.settings.oauth.scopes, ['openid', 'api:read']);
  });
});

describe('slots', () => {
  test('slot key: 24 characters of sha256-base64url(issuer|clientId|accountId), issuer trailing slash ignored', () => {
    const a = identityOf({ issuer: 'https://idp.example/', clientId: 'c', scopes: [] });
    const b = identityOf({ issuer: 'https://idp.example', clientId: 'c', scopes: [] });
    assert.equal(slotKeyOf(a, 'alice'), slotKeyOf(b, 'alice'));
    assert.match(slotKeyOf(a, 'alice'), /^[A-Za-z0-9_-]{24}$/);
    assert.notEqual(slotKeyOf(a, 'alice'), slotKeyOf(a, 'bob'));
    assert.notEqual(slotKeyOf(a, 'alice'), slotKeyOf({ ...a, clientId: 'd' }, 'alice'));
    assert.equal(secretKeyOf('k'), 'tokenrelay/v1/k');
  });
});
