// What a token endpoint's non-conforming answers to a refresh become: a 400/401 without an OAuth
// error is a refusal of the refresh token (needs sign-in), quoted redacted; 5xx and 429 stay transient.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { InvalidGrantError, TokenRelayError, TransientError } from '../../src/core/errors.ts';

const REFRESH_TOKEN = 'rt-0123456789abcdefghijklmnopqrstuvwxyz-secret';
let answer: { status: number; headers?: Record<string, string>; body?: string } = { status: 400 };
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? ''));
});
let client: OAuthClient;
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  client = new OAuthClient({ endpoints: { token: `http://127.0.0.1:${port}/token` }, clientId: 'c', scopes: [] });
});
after(() => server.close());

async function refusalOf(a: typeof answer): Promise<TokenRelayError> {
  answer = a;
  const err = await client.refresh(REFRESH_TOKEN, AbortSignal.timeout(5000)).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TokenRelayError, `not a TokenRelayError: ${String(err)}`);
  assert.ok(!err.message.includes(REFRESH_TOKEN), 'the presented token is never quoted');
  return err;
}

test('400 with no body and no content type: a refusal of the refresh token', async () => {
  const err = await refusalOf({ status: 400 });
  assert.ok(err instanceof InvalidGrantError);
  assert.equal(err.code, 'needs-sign-in');
  assert.match(err.message, /\(HTTP 400, no content type, empty body, not an OAuth error answer; taken as a refusal of the refresh token\)\. Sign in again/);
});

test('401 with an HTML page that echoes the token: refusal, content type and first bytes quoted, token redacted', async () => {
  const page = `<html><body>Refresh   token ${REFRESH_TOKEN} is not valid. ${'Try again later. '.repeat(20)}</body></html>`;
  const err = await refusalOf({ status: 401, headers: { 'content-type': 'text/html; charset=utf-8' }, body: page });
  assert.ok(err instanceof InvalidGrantError);
  assert.match(err.message, /HTTP 401, content type "text\/html; charset=utf-8", body "<html><body>Refresh token \[redacted\] is not valid\. Try again later\. Try [^"]*…"/);
  assert.doesNotMatch(err.message, /rt-0123/, 'not even a piece of it');
});

test('400 JSON without an error member: a refusal too', async () => {
  const err = await refusalOf({ status: 400, headers: { 'content-type': 'application/json' }, body: '{"message":"bad token"}' });
  assert.ok(err instanceof InvalidGrantError);
  assert.match(err.message, /HTTP 400, content type "application\/json", body "\{"message":"bad token"\}"/);
});

test('401 with a WWW-Authenticate challenge naming invalid_client: the client is refused, not the token; the fix names the setting', async () => {
  const err = await refusalOf({ status: 401, headers: { 'www-authenticate': 'Basic realm="idp", error="invalid_client"' } });
  assert.equal(err.code, 'idp-rejected');
  assert.match(err.message, /refused the token refresh \(invalid_client\).*tokenrelay\.clientId/);
});

test('401 with a bare challenge (no error parameter): a refusal of the token', async () => {
  const err = await refusalOf({ status: 401, headers: { 'www-authenticate': 'Basic realm="idp"' } });
  assert.ok(err instanceof InvalidGrantError);
  assert.match(err.message, /HTTP 401, no content type, empty body/);
});

test('503, 502 and 429 without a body stay transient (the token is unspent)', async () => {
  for (const status of [503, 502, 429]) {
    const err = await refusalOf({ status, headers: { 'content-type': 'text/html' }, body: '<html>busy</html>' });
    assert.ok(err instanceof TransientError, `${status}: ${err.message}`);
    assert.equal(err.mayHaveReachedServer, false);
  }
});
