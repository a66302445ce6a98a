// The refresh request for another audience (RFC 8707 §2.2): `resource=R` on the refresh_token
// grant; at Entra ID (whose v2 endpoints ignore `resource`) the scope `R/.default offline_access`
// instead. A refusal of the resource is a ResourceRefusedError naming the resource and the fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { ResourceRefusedError, TokenRelayError } from '../../src/core/errors.ts';

const REFRESH_TOKEN = 'rt-0123456789abcdefghijklmnopqrstuvwxyz-secret';
let answer: { status: number; body: Record<string, unknown> } = { status: 200, body: {} };
let lastBody: URLSearchParams | undefined;
const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8').on('data', (c: string) => { raw += c; });
  req.on('end', () => {
    lastBody = new URLSearchParams(raw);
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
});
let endpoint: string;
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => server.close());

const ok = { status: 200, body: { access_token: 'at-for-the-api-0123456789', token_type: 'Bearer', expires_in: 600, refresh_token: 'rt-next-0123456789abcdef' } };

function clientFor(issuer: string | undefined, resource?: string): OAuthClient {
  return new OAuthClient({ issuer, endpoints: { token: `${endpoint}/token`, authorization: `${endpoint}/authorize` }, clientId: 'c', scopes: ['openid', 'offline_access', 'api:read'], resource });
}

test('a refresh for another audience sends resource=R (and the configured one without it)', async () => {
  answer = ok;
  const client = clientFor(undefined, 'https://configured.test');
  await client.refresh(REFRESH_TOKEN, AbortSignal.timeout(5000), undefined, undefined, 'https://api-b.test');
  assert.deepEqual(lastBody?.getAll('resource'), ['https://api-b.test']);
  assert.equal(lastBody?.get('grant_type'), 'refresh_token');
  assert.equal(lastBody?.get('scope'), null, 'the grant\'s scope is kept');
  await client.refresh(REFRESH_TOKEN, AbortSignal.timeout(5000));
  assert.deepEqual(lastBody?.getAll('resource'), ['https://configured.test']);
  assert.equal(client.defaultResource, 'https://configured.test');
});

test('Entra ID: the audience is the scope R/.default with offline_access, and no resource parameter', async () => {
  answer = ok;
  const client = clientFor('https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0');
  await client.refresh(REFRESH_TOKEN, AbortSignal.timeout(5000), undefined, undefined, 'api://my-api/');
  assert.equal(lastBody?.get('resource'), null);
  assert.equal(lastBody?.get('scope'), 'api://my-api/.default offline_access openid');
});

test('invalid_target, or invalid_request naming the resource: a ResourceRefusedError with the fix; other refusals are not', async () => {
  const client = clientFor(undefined);
  const refusal = async (body: Record<string, unknown>, resource: string | null = 'https://nope.test') => {
    answer = { status: 400, body };
    const err = await client.refresh(REFRESH_TOKEN, AbortSignal.timeout(5000), undefined, undefined, resource ?? undefined).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TokenRelayError, String(err));
    assert.ok(!err.message.includes(REFRESH_TOKEN));
    return err;
  };
  const target = await refusal({ error: 'invalid_target' });
  assert.ok(target instanceof ResourceRefusedError);
  assert.equal(target.code, 'idp-rejected');
  assert.match(target.message, /refused a token for the resource https:\/\/nope\.test \(invalid_target\)\. Check that the identity provider supports RFC 8707 resource indicators on refresh, and that this client is allowed that resource/);
  assert.ok(await refusal({ error: 'invalid_request', error_description: 'unknown resource' }) instanceof ResourceRefusedError);
  assert.ok(!(await refusal({ error: 'invalid_request', error_description: 'missing parameter' }) instanceof ResourceRefusedError));
  assert.ok(!(await refusal({ error: 'invalid_target' }, null) instanceof ResourceRefusedError), 'the configured resource keeps its setting error');
  const entra = clientFor('https://login.microsoftonline.com/tid/v2.0');
  answer = { status: 400, body: { error: 'invalid_resource', error_description: 'AADSTS500011: The resource principal named api://nope was not found' } };
  const err = await entra.refresh(REFRESH_TOKEN, AbortSignal.timeout(5000), undefined, undefined, 'api://nope').then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ResourceRefusedError);
  assert.match(err.message, /application ID URI/);
});
