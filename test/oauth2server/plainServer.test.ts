// The real sign-in path (loopback flow over real HTTP, AccountService, the sealed store) against the
// plain OAuth 2.0 test server: no discovery, no id_token, RFC 9207 `iss` with a path, identity by
// introspection or none at all, sign-out and replacement proved by the server's counters.
// The storm and server-wins run against it in test/core/storm.test.ts and test/core/serverWins.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import type { Logger } from '../../src/core/types.ts';
import { AccountRegistry, type RegistryNotice } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { ResourceRefusedError } from '../../src/core/errors.ts';
import { openStore } from '../harness/stores.ts';
import { completeAuthorization } from './login.ts';
import { startPlainServer, type PlainServer } from './server.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

let server: PlainServer;
let dir: string;
let service: AccountService | undefined;
let store: ReturnType<typeof openStore> | undefined;
const serverLog: string[] = [];
const lines: string[] = [];
const log: Logger = {
  trace: () => undefined, debug: () => undefined,
  info: (m) => lines.push(`[info] ${m}`), warn: (m) => lines.push(`[warn] ${m}`), error: (m) => lines.push(`[error] ${m}`),
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tokenrelay-plain-'));
  serverLog.length = 0;
  lines.length = 0;
  server = await startPlainServer({ accessTokenTtl: 300, logger: (line) => serverLog.push(line) });
});

afterEach(async () => {
  await service?.dispose();
  store?.close();
  service = store = undefined;
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openService(settings: Record<string, unknown>): Promise<AccountService> {
  store = openStore('shared-lag', join(dir, 'secrets'), 0);
  const opened = new AccountService(new AccountRegistry({
    slotsRoot: join(dir, 'slots'), store, log, siblings: (l) => new UnixSiblingChannel(join(dir, 'sockets'), l), rescanIntervalMs: 60_000, brokerOptions: { proactive: false },
  }), log);
  await opened.configure(parseSettings((key) => ({ clientId: server.clientId, ...settings })[key]));
  return opened;
}

/** The browser part, done by the test; the service persists the result as a window would. */
async function signIn(login: string) {
  const result = await signInWithLoopback(service!.oauthClient(), {
    openBrowser: async (url) => { await fetch(await completeAuthorization(url, { login })); },
  });
  return { result, summary: await service!.signIn(result.tokens, result.account) };
}

async function apiStatus(token: string): Promise<number> {
  return (await fetch(server.apiUrl, { headers: { authorization: `Bearer ${token}` } })).status;
}

test('issuer with a path + endpoints: no discovery, iss checked, account by introspection, sign-out revokes at the server', async () => {
  const { authorization, token, revocation, introspection } = server.endpoints;
  service = await openService({ issuer: server.issuer, endpoints: { authorization, token, revocation, introspection } });
  const { result, summary } = await signIn('alice');
  assert.ok(new URL(server.issuer).pathname.length > 1, 'the issuer has a path, and its iss came back with it');
  assert.deepEqual(summary.account, { id: 'alice', label: 'alice' }, 'the account came from introspection');
  assert.equal(result.tokens.scope, 'offline_access', 'the defaults asked for no openid at a server named by its endpoints');
  assert.equal(result.tokens.idToken, undefined);
  assert.ok(!serverLog.some((l) => l.includes('.well-known')), 'nothing was discovered');
  assert.equal(service.status().issuer, server.issuer, 'the UI shows the issuer');
  const access = (await service.getToken()).accessToken;
  assert.equal(await apiStatus(access), 200);

  server.resetCounters();
  await service.signOut(summary.id);
  const counters = server.counters();
  assert.equal(counters.revocationRequests, 1, 'the revocation reached the server');
  assert.equal(counters.grantRevocations, 1, 'it revoked the grant');
  assert.equal((await server.introspect(access)).active, false, 'the grant\'s access token died with it');
  assert.equal(await apiStatus(access), 401);
  assert.equal(service.status().state, 'signed-out');
});

test('a server that names nobody: a second sign-in replaces the first, revokes its grant and says so', async () => {
  const { authorization, token, revocation } = server.endpoints;
  service = await openService({ issuer: server.issuer, endpoints: { authorization, token, revocation } });
  const notices: RegistryNotice[] = [];
  service.onNotice((n) => notices.push(n));
  const first = await signIn('alice');
  const host = new URL(server.issuer).host;
  assert.equal(first.summary.account.label, `Signed in at ${host}`);
  assert.equal(notices.length, 0, 'nothing was replaced yet');
  server.resetCounters();

  const second = await signIn('bob');
  assert.equal(second.summary.id, first.summary.id, 'the same (only) account');
  assert.equal(service.accounts().length, 1);
  assert.deepEqual(notices.map((n) => n.kind), ['account-replaced']);
  assert.match(notices[0].message, new RegExp(`signed out the previous session at ${server.issuer}.*revoked its grant.*names no account`));
  assert.ok(lines.some((l) => /Replaced the previous session .* its grant was revoked/.test(l)), 'the log says so too');
  const counters = server.counters();
  assert.equal(counters.revocationRequests, 1);
  assert.equal(counters.grantRevocations, 1, 'the first grant was revoked, nothing else');
  assert.equal((await server.introspect(first.result.tokens.refreshToken!)).active, false, 'nobody is left holding the first grant');
  assert.equal((await server.introspect(first.result.tokens.accessToken)).active, false);
  const current = (await service.getToken()).accessToken;
  assert.equal(current, second.result.tokens.accessToken);
  assert.equal(await apiStatus(current), 200, 'the new sign-in works');
});

test('openid asked for at a server that issues no id_token: the error names the fix; nothing is stored', async () => {
  const { authorization, token } = server.endpoints;
  service = await openService({ issuer: server.issuer, endpoints: { authorization, token }, scopes: ['openid', 'offline_access'] });
  const err = await signIn('alice').then(() => undefined, (e: Error) => e);
  assert.ok(err, 'sign-in failed');
  assert.match(err.message, /without an id_token, although tokenrelay\.scopes includes "openid"/);
  assert.match(err.message, /Remove "openid" from tokenrelay\.scopes/);
  assert.doesNotMatch(err.message, /not valid OAuth/);
  assert.equal(service.status().state, 'signed-out');
});

test('endpoints without tokenrelay.issuer: a server\'s iss with a path asks for tokenrelay.issuer by value', async () => {
  const { authorization, token } = server.endpoints;
  service = await openService({ endpoints: { authorization, token } });
  assert.equal(service.status().issuer, new URL(token).origin, 'the UI shows the server, never the token endpoint URL');
  const err = await signIn('alice').then(() => undefined, (e: Error) => e);
  assert.ok(err);
  assert.match(err.message, new RegExp(`identified itself as "${server.issuer}".*set tokenrelay\\.issuer to exactly that value`));
  assert.equal(server.counters().authorizationCodeGrants, 0, 'the code was never exchanged');
});

test('the server is strict: a spent refresh token presented again revokes the whole family', async () => {
  const { authorization, token } = server.endpoints;
  service = await openService({ issuer: server.issuer, endpoints: { authorization, token } });
  const { result } = await signIn('alice');
  const client = new OAuthClient({ issuer: server.issuer, endpoints: { authorization, token }, clientId: server.clientId, scopes: ['offline_access'] });
  const rotated = await client.refresh(result.tokens.refreshToken!, AbortSignal.timeout(5000));
  assert.notEqual(rotated.refreshToken, result.tokens.refreshToken, 'rotation');
  await assert.rejects(client.refresh(result.tokens.refreshToken!, AbortSignal.timeout(5000)), /already used/);
  const counters = server.counters();
  assert.deepEqual([counters.refreshGrants, counters.reuseDetections, counters.grantRevocations], [1, 1, 1]);
  assert.equal((await server.introspect(rotated.accessToken)).active, false, 'the rotated tokens died with the family');
  await assert.rejects(client.refresh(rotated.refreshToken!, AbortSignal.timeout(5000)), /invalid_grant/);
});

test('resource indicators: without the option the server ignores resource; with it an unknown one is invalid_target and nothing rotates', async () => {
  const { authorization, token } = server.endpoints;
  service = await openService({ issuer: server.issuer, endpoints: { authorization, token } });
  const { result } = await signIn('alice');
  const client = new OAuthClient({ issuer: server.issuer, endpoints: { authorization, token }, clientId: server.clientId, scopes: ['offline_access'] });
  const ignored = await client.refresh(result.tokens.refreshToken!, AbortSignal.timeout(5000), undefined, undefined, 'https://anything.test');
  assert.ok(ignored.refreshToken, 'the plain server ignores resource by default');
  await server.close();
  server = await startPlainServer({ accessTokenTtl: 300, logger: (line) => serverLog.push(line), resources: ['https://api-a.test'] });
  const strict = new OAuthClient({ issuer: server.issuer, endpoints: server.endpoints, clientId: server.clientId, scopes: ['offline_access'] });
  await service.dispose();
  store?.close();
  service = await openService({ issuer: server.issuer, endpoints: { authorization: server.endpoints.authorization, token: server.endpoints.token } });
  const second = await signIn('alice');
  const err = await strict.refresh(second.result.tokens.refreshToken!, AbortSignal.timeout(5000), undefined, undefined, 'https://unknown.test').then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ResourceRefusedError, String(err));
  assert.match(err.message, /refused a token for the resource https:\/\/unknown\.test \(invalid_target: unknown resource\)/);
  // This server refused before rotating: the same refresh token still works, with no reuse detected.
  const after = await strict.refresh(second.result.tokens.refreshToken!, AbortSignal.timeout(5000), undefined, undefined, 'https://api-a.test');
  assert.ok(after.accessToken);
  const counters = server.counters();
  assert.deepEqual([counters.refreshGrants, counters.reuseDetections, counters.grantRevocations], [1, 0, 0]);
});
