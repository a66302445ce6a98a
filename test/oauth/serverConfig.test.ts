// Units of "any OAuth 2.0 server": which scopes are asked for, when nothing is discovered, what the
// UI calls the issuer, and the RFC 9207 `iss` check. No server: nothing here touches the network
// except a refused loopback port, which proves a request was (or was not) attempted.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import type * as oauth from 'oauth4webapi';
import { DEFAULT_SCOPES, PLAIN_DEFAULT_SCOPES, parseSettings } from '../../src/app/settings.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { displayIssuer, resolveServer, scopesFor, skipsDiscovery, type OAuthConfig } from '../../src/oauth/serverConfig.ts';

const settingsOf = (values: Record<string, unknown>) => {
  const result = parseSettings((key) => values[key]);
  assert.ok(result.ok, result.ok ? '' : result.problem.message);
  return result.settings.oauth;
};

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const OIDC_METADATA: oauth.AuthorizationServer = { issuer: 'https://idp.example', userinfo_endpoint: 'https://idp.example/me', id_token_signing_alg_values_supported: ['RS256'] };
const RFC8414_METADATA: oauth.AuthorizationServer = { issuer: 'https://as.example', token_endpoint: 'https://as.example/token' };

describe('which scopes, and whether an id_token is required', () => {
  test('an issuer alone: the OIDC defaults, narrowed at a plain OAuth 2.0 server found by discovery', () => {
    const config = settingsOf({ issuer: 'https://idp.example', clientId: 'c' });
    assert.deepEqual(config.scopes, DEFAULT_SCOPES);
    assert.equal(config.defaultScopes, true);
    assert.deepEqual(scopesFor(config, OIDC_METADATA), ['openid', 'profile', 'offline_access'], 'OIDC metadata: openid, so an id_token is expected');
    assert.deepEqual(scopesFor(config, RFC8414_METADATA), ['offline_access'], 'RFC 8414 metadata: no openid, no id_token required');
  });

  test('endpoints (with or without an issuer): no discovery, and no openid by default', () => {
    for (const issuer of [undefined, 'https://as.example/oauth2']) {
      const config = settingsOf({ issuer, clientId: 'c', endpoints: { token: 'https://as.example/token', authorization: 'https://as.example/authorize' } });
      assert.equal(skipsDiscovery(config), true);
      assert.deepEqual(config.scopes, PLAIN_DEFAULT_SCOPES);
    }
  });

  test('scopes the user lists are asked for as listed, even openid at a plain server (whose missing id_token then names the fix)', () => {
    const config = settingsOf({ issuer: 'https://as.example', clientId: 'c', scopes: ['openid', 'offline_access'] });
    assert.equal(config.defaultScopes, undefined);
    assert.deepEqual(scopesFor(config, RFC8414_METADATA), ['openid', 'offline_access']);
    assert.equal(settingsOf({ issuer: 'https://as.example', clientId: 'c', scopes: [] }).defaultScopes, true, 'VS Code reports an unset list as []');
  });
  test('the scopes a session carries follow what discovery found: the defaults without openid at RFC 8414 metadata', async () => {
    const metadata = createHttpServer((req, res) => {
      const issuer = `http://127.0.0.1:${(metadata.address() as { port: number }).port}`;
      if (req.url !== '/.well-known/oauth-authorization-server') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, token_endpoint: `${issuer}/token`, authorization_endpoint: `${issuer}/authorize` }));
    });
    await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', resolve));
    try {
      const client = new OAuthClient(settingsOf({ issuer: `http://127.0.0.1:${(metadata.address() as { port: number }).port}`, clientId: 'c' }));
      assert.deepEqual(client.knownScopes(), DEFAULT_SCOPES, 'before discovery: the configured defaults');
      await client.prepare();
      assert.deepEqual(client.knownScopes(), ['offline_access'], 'after discovery of plain OAuth 2.0 metadata');
    } finally {
      await new Promise<void>((resolve) => metadata.close(() => resolve()));
    }
  });
});

describe('issuer plus endpoints', () => {
  test('no discovery: the configured issuer (with its path) is the issuer, and no request is made', async () => {
    // An issuer on a refused port: discovery would fail, so resolving proves nothing was fetched.
    const issuer = `http://127.0.0.1:${await closedPort()}/realms/dev`;
    const config: OAuthConfig = { issuer, clientId: 'c', scopes: ['offline_access'], endpoints: { token: 'https://as.example/token', authorization: 'https://as.example/authorize', introspection: 'https://as.example/introspect' } };
    const server = await resolveServer(config);
    assert.equal(server.issuer, issuer);
    assert.equal(server.token_endpoint, 'https://as.example/token');
    assert.equal(server.introspection_endpoint, 'https://as.example/introspect');
  });

  test('endpoints without a token endpoint still discover, and a failure says what to add instead of what is already set', async () => {
    const nothing = createHttpServer((_req, res) => res.writeHead(404).end()); // no discovery document
    await new Promise<void>((resolve) => nothing.listen(0, '127.0.0.1', resolve));
    try {
      const issuer = `http://127.0.0.1:${(nothing.address() as { port: number }).port}`;
      const config: OAuthConfig = { issuer, clientId: 'c', scopes: ['offline_access'], endpoints: { token: '', revocation: 'https://as.example/revoke' } };
      assert.equal(skipsDiscovery(config), false);
      const err = await resolveServer(config).then(() => assert.fail('discovery cannot succeed'), (e: Error) => e);
      assert.match(err.message, /Discovery of .* failed/);
      assert.match(err.message, /tokenrelay\.endpoints has no token endpoint.*Add tokenrelay\.endpoints\.token/);
      assert.doesNotMatch(err.message, /or set tokenrelay\.endpoints/);
    } finally {
      await new Promise<void>((resolve) => nothing.close(() => resolve()));
    }
  });

  test('the UI\'s issuer: the configured one, else the token endpoint\'s origin, never its URL', () => {
    assert.equal(displayIssuer({ issuer: 'https://as.example/oauth2', endpoints: { token: 'https://as.example/token' } }), 'https://as.example/oauth2');
    assert.equal(displayIssuer({ endpoints: { token: 'https://as.example/oauth/token' } }), 'https://as.example');
  });
});

describe('RFC 9207 iss', () => {
  async function exchange(issuer: string | undefined, iss: string): Promise<Error> {
    const token = `http://127.0.0.1:${await closedPort()}/token`;
    const client = new OAuthClient({ issuer, clientId: 'c', scopes: ['offline_access'], endpoints: { token, authorization: 'https://as.example/authorize' } });
    const callback = new URL(`http://127.0.0.1:1/callback?code=abc&state=s&iss=${encodeURIComponent(iss)}`);
    return client.exchangeCode(callback, 's', 'v'.repeat(43), 'http://127.0.0.1:1/callback').then(() => assert.fail('no exchange can succeed'), (e: Error) => e);
  }

  test('an iss with a path equal to tokenrelay.issuer passes (the exchange is then attempted)', async () => {
    const err = await exchange('http://127.0.0.1:9/oauth2', 'http://127.0.0.1:9/oauth2');
    assert.match(err.message, /ECONNREFUSED/, 'past the iss check, to the (refused) token endpoint');
  });

  test('any other iss is refused before the code is exchanged, naming the setting and the value', async () => {
    const mismatch = await exchange('http://127.0.0.1:9/oauth2', 'http://127.0.0.1:9/other');
    assert.match(mismatch.message, /identified itself as "http:\/\/127\.0\.0\.1:9\/other".*expects is "http:\/\/127\.0\.0\.1:9\/oauth2"/);
    const guessed = await exchange(undefined, 'https://as.example/oauth2');
    assert.match(guessed.message, /set tokenrelay\.issuer to exactly that value/);
    assert.doesNotMatch(guessed.message, /ECONNREFUSED/);
  });
});
