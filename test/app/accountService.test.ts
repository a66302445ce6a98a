// AccountService against the real test IdP: every consumer path (terminal and extension API:
// getToken; AuthenticationProvider: sessions / session; Refresh Now: refreshNow) gets the same
// checks, so a consumer cannot get a token the terminal path would refuse. No fake `vscode`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { Disposable, Logger, SecretStore } from '../../src/core/types.ts';
import { AccountRegistry } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { serveTerminals, type TerminalServer } from '../../src/ipc/tokenServer.ts';
import { postJson } from '../../src/ipc/jsonClient.ts';
import { ROUTES } from '../../src/ipc/tokenProtocol.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { memoryStore } from '../harness/stores.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

const SCOPES = ['openid', 'profile', 'offline_access', 'api:read'];

const lines: string[] = [];
const log: Logger = {
  trace: () => undefined,
  debug: () => undefined,
  info: (m) => lines.push(`[info] ${m}`),
  warn: (m) => lines.push(`[warn] ${m}`),
  error: (m) => lines.push(`[error] ${m}`),
};

let idp: Idp;
let dir: string;
let service: AccountService;
let server: TerminalServer | undefined;
/** The brokers' clock runs this far ahead of the wall clock the tokens' expiry is computed with. */
let clockAhead = 0;

function openService(settings: Record<string, unknown>): Promise<AccountService> {
  const opened = new AccountService(new AccountRegistry({
    slotsRoot: join(dir, 'slots'),
    store: memoryStore(),
    log,
    siblings: (l) => new UnixSiblingChannel(join(dir, 'sockets'), l),
    rescanIntervalMs: 60_000,
    brokerOptions: { proactive: false, clock: { now: () => Date.now() + clockAhead } },
  }), log);
  return opened.configure(parseSettings((key) => settings[key])).then(() => opened);
}

/** The browser part of a sign-in, done by the test; the service persists the result. */
async function signIn(login: string) {
  const result = await signInWithLoopback(service.oauthClient(), {
    openBrowser: async (url) => { await fetch(await completeAuthorization(url, { login })); },
  });
  return service.signIn(result.tokens, result.account);
}

/** The terminal path as the CLI takes it: a request to the window's socket. */
async function terminalToken(body: Record<string, unknown>): Promise<string> {
  server ??= await serveTerminals({ socketDir: join(dir, 'sockets'), service, log });
  return (await postJson<{ accessToken: string }>(server.socketPath, ROUTES.token, body)).accessToken;
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof Error && 'code' in err, `expected a refusal, got ${String(err)}`);
  return { code: String(err.code), message: err.message };
}

before(async () => { idp = await startIdp({ accessTokenTtl: 60 }); });
after(async () => { await idp.close(); });
beforeEach(async () => {
  lines.length = 0;
  clockAhead = 0;
  dir = mkdtempSync(join(tmpdir(), 'tokenrelay-app-'));
  service = await openService({ issuer: idp.issuer, clientId: idp.clientId, scopes: SCOPES });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await service.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('one set of checks for every consumer', () => {
  test('a scope that is not configured is refused on the provider path as on the terminal path', async () => {
    const alice = await signIn('alice');
    const terminal = await refusal(terminalToken({ scopes: ['admin'] }));
    assert.ok(terminal.code === 'config', `terminal: ${terminal.code}`);
    assert.match(terminal.message, /not configured for the scope\(s\) admin\. Add them to tokenrelay\.scopes/);

    const paths = {
      'getToken (terminal, extension API)': service.getToken({ scopes: ['admin'] }),
      'sessions (provider getSessions)': service.sessions({ scopes: ['admin'] }),
      'session (provider createSession)': service.session(alice.id, ['admin']),
    };
    for (const [path, attempt] of Object.entries(paths)) {
      assert.deepEqual(await refusal(attempt), terminal, path);
    }
    assert.equal(service.scopeProblem(['openid', 'admin'])?.message, terminal.message, 'createSession\'s early check says the same');

    // Configured scopes are served the same token on every path.
    const token = await terminalToken({ scopes: ['api:read'] });
    assert.equal((await service.getToken({ scopes: ['api:read'] })).accessToken, token);
    assert.deepEqual((await service.sessions({ scopes: ['api:read'] })).map((s) => s.accessToken), [token]);
    assert.equal((await service.session(alice.id, ['api:read'])).accessToken, token);
    assert.equal(service.scopeProblem(['api:read']), undefined);
  });

  test('accounts are chosen by id or label; an unknown one gets no token on any path', async () => {
    const alice = await signIn('alice');
    const bob = await signIn('bob');
    const [forAlice, forBob] = await Promise.all([service.getToken({ account: 'alice' }), service.getToken({ account: 'bob' })]);
    assert.notEqual(forAlice.accessToken, forBob.accessToken);
    assert.equal((await service.getToken({})).account.id, 'alice', 'the first signed-in account by default');
    assert.equal(await terminalToken({ account: 'bob' }), forBob.accessToken);

    const unknown = await refusal(service.getToken({ account: 'carol' }));
    assert.equal(unknown.code, 'not-signed-in');
    assert.match(unknown.message, /no session for the account "carol"/);
    assert.equal((await refusal(terminalToken({ account: 'carol' }))).code, 'not-signed-in');
    assert.deepEqual(await service.sessions({ account: { id: 'carol', label: 'carol' } }), []);
    assert.deepEqual((await service.sessions({ account: { id: 'bob', label: 'bob' } })).map((s) => s.id), [bob.id]);
    assert.deepEqual((await service.sessions()).map((s) => s.id), [alice.id, bob.id]);
    assert.equal((await refusal(service.session('no-such-slot'))).code, 'not-signed-in');
  });

  test('a rejected token or a longer validity costs one refresh, and every path sees its result', async () => {
    const alice = await signIn('alice');
    const first = (await service.getToken({})).accessToken;
    let before = idp.counters().refreshGrants;
    const reported = await Promise.all([
      service.getToken({ rejectedAccessToken: first }),
      terminalToken({ rejected: first }),
      service.getToken({ rejectedAccessToken: first }),
    ]);
    assert.equal(idp.counters().refreshGrants - before, 1, 'one refresh for every report of the same token');
    const second = reported[0].accessToken;
    assert.notEqual(second, first);
    assert.equal(reported[1], second);
    assert.deepEqual((await service.sessions()).map((s) => s.accessToken), [second]);
    assert.deepEqual(service.heldSessions().map((s) => s.accessToken), [second]);

    before = idp.counters().refreshGrants;
    const third = (await service.refreshNow()).accessToken;
    assert.notEqual(third, second);
    assert.equal(idp.counters().refreshGrants - before, 1, 'Refresh Now: one refresh');
    assert.equal((await service.session(alice.id)).accessToken, third);

    // 20 s left of 60: fresh by the default margin (15 s here), not for a caller that needs 25 s.
    clockAhead = 40_000;
    before = idp.counters().refreshGrants;
    assert.equal((await service.getToken({})).accessToken, third);
    assert.equal(idp.counters().refreshGrants - before, 0);
    const longer = await terminalToken({ minValidSeconds: 25 });
    assert.notEqual(longer, third);
    assert.equal(idp.counters().refreshGrants - before, 1, 'the minimum validity reached the broker');
    const again = await service.getToken({ minValidityMs: 25_000 });
    assert.equal(idp.counters().refreshGrants - before, 2, 'and from the API path too');
    assert.notEqual(again.accessToken, longer);
  });

  test('without a usable configuration every path names the problem', async () => {
    await service.dispose();
    service = await openService({ refreshSkewSeconds: -1, issuer: idp.issuer, clientId: idp.clientId });
    const expected = /refreshSkewSeconds must be a number of seconds/;
    for (const attempt of [service.getToken({}), service.sessions(), service.session('x'), service.refreshNow(), terminalToken({})]) {
      const { code, message } = await refusal(attempt);
      assert.equal(code, 'config');
      assert.match(message, expected);
    }
    const status = service.status();
    assert.equal(status.state, 'error');
    assert.equal(status.errorCode, 'config');
    assert.match(status.error ?? '', expected);
  });
});

describe('status, accounts and sign-out', () => {
  test('status and accounts carry no token; sign-out ends every path and is announced', async () => {
    assert.equal(service.status().state, 'signed-out');
    assert.equal((await refusal(service.refreshNow())).code, 'not-signed-in');
    let changes = 0;
    const sub = service.onDidChange(() => changes++);
    const alice = await signIn('alice');
    assert.ok(changes > 0, 'sign-in is announced');
    const token = (await service.getToken({})).accessToken;

    const status = service.status();
    assert.equal(status.state, 'signed-in');
    assert.equal(status.account?.label, 'alice');
    assert.equal(status.issuer, idp.issuer);
    assert.deepEqual(service.accounts().map((a) => [a.id, a.account.label, a.signedIn, a.status.state]), [[alice.id, 'alice', true, 'signed-in']]);
    assert.equal(service.primary()?.id, alice.id);
    assert.equal(service.account(alice.id)?.account.id, 'alice');
    assert.ok(!JSON.stringify([status, service.accounts()]).includes(token), 'no token in status or accounts');

    changes = 0;
    await service.signOut(alice.id);
    sub.dispose();
    assert.ok(changes > 0, 'sign-out is announced');
    assert.equal(service.status().state, 'signed-out');
    assert.deepEqual(service.heldSessions(), []);
    assert.deepEqual(await service.sessions(), []);
    assert.equal((await refusal(service.getToken({}))).code, 'not-signed-in');
    assert.equal((await refusal(terminalToken({}))).code, 'not-signed-in');
  });
});

describe('a revocation the identity provider refuses (glewlwyd answers a public client 401)', () => {
  afterEach(() => idp.setFault('none'));

  test('sign-out completes locally; the warning names the answer and the issuer, from the service and the terminal route', async () => {
    const alice = await signIn('alice');
    const issued = JSON.stringify(idp.issuedTokens()); // every token issued: none may reach the warning
    const access = (await service.getToken({})).accessToken;
    await idp.setFault('revocation-401');
    idp.resetCounters();
    const { revocationWarning } = await service.signOut(alice.id);
    assert.equal(revocationWarning, `Signed out on this computer. The identity provider did not revoke the grant (HTTP 401, no content type, empty body). The grant may still be active at ${idp.issuer}; revoke it in the provider's account page.`);
    assert.equal(idp.counters().faultAnswers, 1, 'the revocation was asked for once');
    assert.equal(service.status().state, 'signed-out', 'the local sign-out happened anyway');
    assert.equal((await refusal(service.getToken({}))).code, 'not-signed-in');
    assert.equal((await idp.introspect(access)).active, true, 'the grant is indeed still live at the server: the warning is true');
    assert.ok(!JSON.parse(issued).some((t: string) => revocationWarning!.includes(t)));

    // The terminal route (what `tokenrelay sign-out` reads) carries the same warning.
    await signIn('alice');
    server ??= await serveTerminals({ socketDir: join(dir, 'sockets'), service, log });
    const answer = await postJson<{ account?: { label: string }; revocationWarning?: string }>(server.socketPath, ROUTES.signOut, {});
    assert.equal(answer.account?.label, 'alice');
    assert.equal(answer.revocationWarning, revocationWarning);
  });

  test('a revocation that works: no warning', async () => {
    const alice = await signIn('alice');
    const access = (await service.getToken({})).accessToken;
    assert.deepEqual(await service.signOut(alice.id), {});
    assert.equal((await idp.introspect(access)).active, false);
  });
});
