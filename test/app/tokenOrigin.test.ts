// Refresh tokens go only where they came from: a setting edited to name another token endpoint
// for the same issuer and client (so the same slot) gets the refresh refused, naming both servers
// and the fix, and a second server counting requests receives none. A record of the previous
// version, which names no origin, still refreshes, and is pinned to its origin from then on.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import type { Logger } from '../../src/core/types.ts';
import { AccountRegistry } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { memoryStore } from '../harness/stores.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

const SCOPES = ['openid', 'offline_access'];
const log: Logger = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let idp: Idp;
let decoy: { server: Server; url: string; requests: number };
let dir: string;
let service: AccountService;

/** Another token endpoint, counting every request it receives (none should arrive). */
async function startDecoy(): Promise<typeof decoy> {
  const state = { requests: 0 } as typeof decoy;
  state.server = createServer((req, res) => {
    state.requests++;
    req.resume();
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  const address = state.server.address() as { port: number };
  state.url = `http://127.0.0.1:${address.port}/token`;
  return state;
}

/** The same issuer and client (so the same slot), but the token endpoint edited to the decoy's. */
async function decoySettings(): Promise<Record<string, unknown>> {
  const discovered = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json() as { authorization_endpoint: string };
  return { issuer: idp.issuer, clientId: idp.clientId, scopes: SCOPES, endpoints: { authorization: discovered.authorization_endpoint, token: decoy.url } };
}
const plainSettings = () => ({ issuer: idp.issuer, clientId: idp.clientId, scopes: SCOPES });

async function configure(settings: Record<string, unknown>): Promise<void> {
  await service.configure(parseSettings((key) => settings[key]));
}

/** The browser part of sign-in, done by the test; `recordOrigin: false` writes a record as the previous version did. */
async function signIn(recordOrigin: boolean): Promise<void> {
  const result = await signInWithLoopback(service.oauthClient(), {
    openBrowser: async (url) => { await fetch(await completeAuthorization(url, { login: 'alice' })); },
  });
  await service.signIn(result.tokens, result.account, undefined, recordOrigin ? result.origin : undefined);
}

/** A refresh however fresh the token is (Refresh Token Now). */
const refresh = () => service.refreshNow();

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof Error && 'code' in err, `expected a refusal, got ${String(err)}`);
  return { code: String(err.code), message: err.message };
}

before(async () => {
  idp = await startIdp({ accessTokenTtl: 60 });
  decoy = await startDecoy();
});
after(async () => {
  await idp.close();
  await new Promise((resolve) => decoy.server.close(resolve));
});
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tokenrelay-origin-'));
  decoy.requests = 0;
  service = new AccountService(new AccountRegistry({
    slotsRoot: join(dir, 'slots'), store: memoryStore(), log, siblings: (l) => new UnixSiblingChannel(join(dir, 'sockets'), l), rescanIntervalMs: 60_000,
    brokerOptions: { proactive: false },
  }), log);
  await configure(plainSettings());
});
afterEach(async () => {
  await service.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('a token endpoint edited to another server: the refresh is refused, naming both and the fix; 0 requests reach it', async () => {
  await signIn(true);
  idp.resetCounters();
  await configure(await decoySettings());
  const refused = await refusal(refresh());
  assert.equal(refused.code, 'config');
  assert.ok(refused.message.includes(decoy.url), refused.message);
  assert.match(refused.message, new RegExp(`issued by ${idp.issuer}/\\S+ to client ${idp.clientId}`));
  assert.match(refused.message, /Sign in again with the new configuration/);
  assert.equal(decoy.requests, 0, 'the refresh token never reached the other server');
  assert.equal(idp.counters().refreshGrants, 0);

  // Nothing was spent: with the previous setting back, the same session refreshes at its own server.
  await configure(plainSettings());
  await refresh();
  assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations, decoy.requests], [1, 0, 0]);
});

test('a record of the previous version (no origin) still refreshes, and is pinned to that origin from then on', async () => {
  await signIn(false);
  idp.resetCounters();
  await refresh();
  assert.equal(idp.counters().refreshGrants, 1, 'the old record refreshed at the configured server');

  await configure(await decoySettings());
  const refused = await refusal(refresh());
  assert.equal(refused.code, 'config');
  assert.match(refused.message, /Sign in again with the new configuration/);
  assert.equal(decoy.requests, 0, 'the upgraded record names its origin, so the edited setting sends nothing');
});

test('sign-out with the token endpoint edited: the refresh token is not sent to the other server for revocation', async () => {
  await signIn(true);
  idp.resetCounters();
  await configure(await decoySettings());
  const id = service.accounts()[0].id;
  const { revocationWarning } = await service.signOut(id);
  assert.match(revocationWarning ?? '', /not sent for revocation: it was issued by .* the configuration now names /);
  assert.equal(decoy.requests, 0);
});
