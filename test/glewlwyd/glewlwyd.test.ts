// Token Relay against glewlwyd (C, Debian's package), a server nobody on the project wrote: rotating
// one-use refresh tokens with reuse detection, every refusal a bare HTTP 400, redirect URIs matched
// exactly, revocation refused to a public client. Counted from glewlwyd's own sqlite and log.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { Logger } from '../../src/core/types.ts';
import { AccountRegistry } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { Broker } from '../../src/core/broker.ts';
import { signInWithDeviceCode } from '../../src/oauth/deviceFlow.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { World, SECRET_KEY, until } from '../harness/fixture.ts';
import { memoryStore, openStore } from '../harness/stores.ts';
import type { Idp } from '../idp/server.ts';
import { cliBundle, runCli } from '../cli/support.ts';
import { glewlwydMissing, startGlewlwyd, type Glewlwyd } from './server.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

const SCOPES = ['openid', 'offline_access'];
const lines: string[] = [];
const log: Logger = {
  trace: () => undefined, debug: () => undefined,
  info: (m) => lines.push(`[info] ${m}`), warn: (m) => lines.push(`[warn] ${m}`), error: (m) => lines.push(`[error] ${m}`),
};

describe('glewlwyd (Debian)', { skip: glewlwydMissing() }, () => {
  let server: Glewlwyd;
  let dir: string;
  let service: AccountService | undefined;

  before(async () => { server = await startGlewlwyd({ accessTokenTtl: 60 }); });
  after(async () => { await server?.close(); });
  beforeEach(() => {
    lines.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'tokenrelay-glew-'));
  });
  afterEach(async () => {
    await service?.dispose();
    service = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function openService(settings: Record<string, unknown> = {}): Promise<AccountService> {
    const opened = new AccountService(new AccountRegistry({
      slotsRoot: join(dir, 'slots'), store: memoryStore(), log, siblings: (l) => new UnixSiblingChannel(join(dir, 'sockets'), l), rescanIntervalMs: 60_000, brokerOptions: { proactive: false },
    }), log);
    await opened.configure(parseSettings((key) => ({ issuer: server.issuer, clientId: server.clientId, scopes: SCOPES, ...settings })[key]));
    return opened;
  }

  /** Device-code sign-in, approved on glewlwyd's device page over HTTP as the user. */
  async function deviceSignIn(client: OAuthClient) {
    return signInWithDeviceCode(client, { present: (prompt) => server.approveDeviceCode(prompt.userCode) });
  }

  test('device-code sign-in through glewlwyd\'s device page; a refresh rotates the token (one row in its database)', async () => {
    service = await openService();
    const { tokens, account } = await deviceSignIn(service.oauthClient());
    const summary = await service.signIn(tokens, account);
    assert.equal(summary.account.id.length > 0, true);
    const before = server.refreshGrants();
    const first = await service.getToken({});
    assert.equal(first.accessToken, tokens.accessToken);
    const refreshed = await service.getToken({ rejectedAccessToken: first.accessToken });
    assert.notEqual(refreshed.accessToken, first.accessToken);
    assert.equal(server.refreshGrants() - before, 1);
    assert.equal(server.invalidTokenPresentations(), 0);
  });

  test('its refusal is a bare 400: a spent refresh token ends in needs sign-in after one presentation, the message names the answer', async () => {
    service = await openService();
    const client = service.oauthClient();
    const { tokens, account } = await deviceSignIn(client);
    await service.signIn(tokens, account);
    // Another tool spends the stored refresh token behind Token Relay's back (glewlwyd rotates it).
    await new OAuthClient({ issuer: server.issuer, clientId: server.clientId, scopes: SCOPES }).refresh(tokens.refreshToken!, AbortSignal.timeout(10_000));
    const invalidBefore = server.invalidTokenPresentations();
    const calls = await Promise.all([1, 2, 3].map(() => service!.getToken({ rejectedAccessToken: tokens.accessToken }).then(() => undefined, (e: Error & { code?: string }) => e)));
    assert.ok(calls.every((e) => e?.code === 'needs-sign-in'), JSON.stringify(calls.map((e) => e?.message)));
    assert.ok(calls.some((e) => /HTTP 400, no content type, empty body, not an OAuth error answer/.test(e!.message)), calls.map((e) => e?.message).join('\n'));
    const later = await service.getToken({}).then(() => undefined, (e: Error & { code?: string }) => e);
    assert.equal(later?.code, 'needs-sign-in');
    assert.equal(service.status().state, 'needs-sign-in');
    assert.equal(server.invalidTokenPresentations() - invalidBefore, 1, 'the refused token was presented once');
  });

  test('tokenrelay.redirectUri: the loopback sign-in glewlwyd refuses on a random port works on the registered one', async () => {
    const random = new OAuthClient({ issuer: server.issuer, clientId: server.clientId, scopes: SCOPES });
    let refused: { status: number; location?: string } | undefined;
    await assert.rejects(signInWithLoopback(random, { timeoutMs: 5000, openBrowser: async (url) => { refused = await server.authorize(url); throw new Error('browser closed'); } }));
    assert.equal(refused?.status, 403, 'glewlwyd matches redirect URIs exactly, port included');

    service = await openService({ redirectUri: server.redirectUri });
    let answer: { status: number; location?: string } | undefined;
    const result = await signInWithLoopback(service.oauthClient(), {
      openBrowser: async (url) => {
        answer = await server.authorize(url);
        if (answer.location?.startsWith(`${server.redirectUri}?`)) await fetch(answer.location);
        else throw new Error(`glewlwyd answered ${answer.status} ${answer.location}`);
      },
    }).catch((err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(answer)}`); });
    assert.equal(answer?.status, 302);
    await service.signIn(result.tokens, result.account);
    assert.equal((await service.getToken({})).accessToken, result.tokens.accessToken);
  });

  test('sign-out: glewlwyd refuses a public client\'s revocation (401); signed out all the same, and the warning says the grant may still be active', async () => {
    service = await openService();
    const { tokens, account } = await deviceSignIn(service.oauthClient());
    const summary = await service.signIn(tokens, account);
    const { revocationWarning } = await service.signOut(summary.id);
    assert.match(revocationWarning ?? '', new RegExp(`^Signed out on this computer\\. The identity provider did not revoke the grant \\(HTTP 401[^)]*\\)\\. The grant may still be active at ${server.issuer.replace(/[.]/g, '\\.')}; revoke it in the provider's account page\\.$`));
    assert.equal(service.status().state, 'signed-out');
    // What the warning says is true: the refresh token still works at glewlwyd.
    const still = await new OAuthClient({ issuer: server.issuer, clientId: server.clientId, scopes: SCOPES }).refresh(tokens.refreshToken!, AbortSignal.timeout(10_000));
    assert.ok(still.accessToken);
  });
});

describe('glewlwyd: a storm of window processes across expiries', { skip: glewlwydMissing() }, () => {
  const TTL = 5;
  const EXPIRIES = 3;
  let server: Glewlwyd;
  let world: World | undefined;
  before(async () => { server = await startGlewlwyd({ accessTokenTtl: TTL }); });
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  after(async () => { await server?.close(); });

  for (const storeModel of ['shared-lag', 'snapshot'] as const) test(`${storeModel} store: 4 windows (3 calls each) and 3 CLI processes at every expiry: 1 refresh per expiry in glewlwyd's database, no invalid token, one token per expiry`, { timeout: 120_000 }, async (t) => {
    // The harness's World with glewlwyd as its server (only issuer and client id are used).
    world = await World.create({ storeModel, lagMs: 20, idp: { issuer: server.issuer, clientId: server.clientId, close: async () => undefined } as unknown as Idp });
    const client = new OAuthClient({ issuer: server.issuer, clientId: server.clientId, scopes: SCOPES });
    const { tokens, account } = await signInWithDeviceCode(client, { present: (p) => server.approveDeviceCode(p.userCode) });
    const store = openStore(storeModel, world.storePath, 0);
    const broker = await Broker.create({ slotDir: world.slotDir, secretKey: SECRET_KEY, store, client, proactive: false });
    await broker.signIn(tokens, account);
    await broker.dispose();
    store.close();

    const windows = await Promise.all(['a', 'b', 'c', 'd'].map((label) => world!.spawn(label, { scopes: SCOPES, terminal: label === 'a' })));
    await cliBundle(); // built before the clock starts
    const before = server.refreshGrants();
    const invalidBefore = server.invalidTokenPresentations();
    const perExpiry: number[] = [];
    for (let expiry = 1; expiry <= EXPIRIES; expiry++) {
      const status = await windows[0]!.request<{ expiresAt: number }>({ cmd: 'status' });
      await until(status.expiresAt + 50);
      const [results, clis] = await Promise.all([
        Promise.all(windows.map((w) => w.getTokens(3))).then((r) => r.flat()),
        Promise.all([1, 2, 3].map(() => runCli(windows[0]!.socketPath!, ['token']))),
      ]);
      assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.message), [], `expiry ${expiry}`);
      assert.deepEqual(clis.map((r) => [r.code, r.stderr]), [[0, ''], [0, ''], [0, '']], `expiry ${expiry}: the CLI`);
      assert.equal(new Set([...results.map((r) => r.token), ...clis.map((r) => r.stdout.trim())]).size, 1, `expiry ${expiry}: every window and CLI got the same token`);
      perExpiry.push(server.refreshGrants() - before - perExpiry.reduce((a, b) => a + b, 0));
    }
    t.diagnostic(`${storeModel}: glewlwyd refresh grants per expiry: ${perExpiry.join(', ')}; invalid token presentations: ${server.invalidTokenPresentations() - invalidBefore}`);
    assert.deepEqual(perExpiry, Array(EXPIRIES).fill(1));
    assert.equal(server.invalidTokenPresentations() - invalidBefore, 0);
  });
});
