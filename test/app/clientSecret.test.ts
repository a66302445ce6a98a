// Clients with a secret (GitHub Apps, Google's desktop clients, confidential clients) against the
// test IdP's clients that require one: the secret is set through the service into the key stores,
// never into settings, and is sent by HTTP Basic or in the form body as configured or discovered.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Logger } from '../../src/core/types.ts';
import { AccountRegistry } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { clientSecretName } from '../../src/app/clientSecret.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { profileSettings, saveProfile } from '../../src/app/configFile.ts';
import { chooseAuthMethod } from '../../src/oauth/clientAuth.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { FileKeyStore } from '../../src/keystore/fileKeyStore.ts';
import { BASIC_CLIENT_ID, POST_CLIENT_ID } from '../idp/config.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { memoryStore } from '../harness/stores.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

const lines: string[] = [];
const log: Logger = {
  trace: (m) => lines.push(m), debug: (m) => lines.push(m), info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m),
};

let idp: Idp;
let dir: string | undefined;
let service: AccountService | undefined;
before(async () => { idp = await startIdp({ accessTokenTtl: 60 }); });
after(async () => { await idp.close(); });
afterEach(async () => {
  await service?.dispose();
  service = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function openService(settings: Record<string, unknown>): Promise<AccountService> {
  const home = dir = mkdtempSync(join(tmpdir(), 'tokenrelay-secret-'));
  lines.length = 0;
  const opened = new AccountService(new AccountRegistry({
    slotsRoot: join(dir, 'slots'), store: memoryStore(), keyStores: [new FileKeyStore(join(dir, 'keys'))], log,
    siblings: (l) => new UnixSiblingChannel(join(home, 'sockets'), l), rescanIntervalMs: 60_000, brokerOptions: { proactive: false },
  }), log);
  await opened.configure(parseSettings((key) => ({ issuer: idp.issuer, scopes: ['openid', 'offline_access'], ...settings })[key]));
  return opened;
}

async function signIn(s: AccountService) {
  const result = await signInWithLoopback(s.oauthClient(), { openBrowser: async (url) => { await fetch(await completeAuthorization(url)); } });
  return s.signIn(result.tokens, result.account);
}

/** Every file under `root`, as text: where a secret must never be. */
function everyFile(root: string): string {
  let text = '';
  for (const name of readdirSync(root, { recursive: true }) as string[]) {
    const path = join(root, name);
    if (statSync(path).isFile()) text += readFileSync(path, 'utf8');
  }
  return text;
}

test('auto: no secret → none; with one → client_secret_basic where listed or nothing is listed, else client_secret_post', () => {
  const server = (methods?: string[]) => ({ issuer: 'https://idp', token_endpoint_auth_methods_supported: methods });
  assert.equal(chooseAuthMethod(undefined, server(['client_secret_basic']), false), 'none');
  assert.equal(chooseAuthMethod('auto', server(['none', 'client_secret_post', 'client_secret_basic']), true), 'client_secret_basic');
  assert.equal(chooseAuthMethod('auto', server(), true), 'client_secret_basic');
  assert.equal(chooseAuthMethod('auto', server(['none', 'client_secret_post']), true), 'client_secret_post');
  assert.equal(chooseAuthMethod('client_secret_post', server(['client_secret_basic']), true), 'client_secret_post', 'configured wins');
  assert.equal(chooseAuthMethod('none', server(), true), 'none');
});

test('tokenrelay.clientAuthMethod is validated and read from the configuration file\'s profiles', () => {
  const bad = parseSettings((k) => ({ issuer: 'https://idp.example', clientId: 'c', clientAuthMethod: 'private_key_jwt' })[k]);
  assert.ok(!bad.ok);
  assert.match(bad.problem.message, /tokenrelay\.clientAuthMethod "private_key_jwt" is not a client authentication method.*auto, none, client_secret_basic, client_secret_post/);
  const ok = parseSettings((k) => ({ issuer: 'https://idp.example', clientId: 'c', clientAuthMethod: 'client_secret_post' })[k]);
  assert.ok(ok.ok && ok.settings.oauth.clientAuthMethod === 'client_secret_post');
  const file = { path: '/x/config.json', exists: true, profiles: { gh: { issuer: 'https://idp.example', clientId: 'c', clientAuthMethod: 'client_secret_basic' } } };
  const fromFile = profileSettings(file, 'gh');
  assert.ok(fromFile.ok && fromFile.settings.oauth.clientAuthMethod === 'client_secret_basic');
  assert.throws(() => saveProfile('/nonexistent-dir/config.json', 'gh', { issuer: 'https://idp.example', clientId: 'c', clientSecret: 'x' }), /unknown setting "clientSecret"/, 'a secret has no place in the file');
});

describe('a client that needs its secret (client_secret_basic)', () => {
  test('without the secret the server refuses the client and the message says how to set it; with it, sign-in and refresh work; the secret is in the key store only', async () => {
    service = await openService({ clientId: BASIC_CLIENT_ID });
    const refused = await signIn(service).then(() => undefined, (e: Error) => e);
    assert.match(refused?.message ?? '', /invalid_client.*Token Relay: Set Client Secret.*tokenrelay config set-client-secret/);

    const stored = await service.setClientSecret(`${idp.clientSecret}\n`);
    assert.deepEqual(stored, { where: `a key file, not protected by the OS (${join(dir!, 'keys')})`, clientId: BASIC_CLIENT_ID, issuer: idp.issuer });
    idp.resetCounters();
    const summary = await signIn(service);
    const first = await service.getToken({});
    const refreshed = await service.getToken({ rejectedAccessToken: first.accessToken });
    assert.notEqual(refreshed.accessToken, first.accessToken);
    assert.deepEqual([idp.counters().authorizationCodeGrants, idp.counters().refreshGrants], [1, 1]);
    assert.deepEqual(idp.counters().tokenAuth, { client_secret_basic: 2 }, 'auto chose Basic: the server lists it');

    const files = everyFile(dir!);
    const keyFile = readFileSync(join(dir!, 'keys', readdirSync(join(dir!, 'keys')).find((n) => n.startsWith(Buffer.from(clientSecretName({ issuer: idp.issuer, clientId: BASIC_CLIENT_ID })).toString('base64url')))!), 'utf8');
    assert.ok(keyFile.includes(idp.clientSecret!), 'kept in the key store');
    assert.equal(files.split(idp.clientSecret!).length - 1, 1, 'and nowhere else under the store');
    assert.ok(!lines.some((l) => l.includes(idp.clientSecret!)), 'never logged');

    // Removed: the next request is a public client's again, which this server refuses.
    await service.setClientSecret(undefined);
    await service.signOut(summary.id);
    assert.match((await signIn(service).then(() => undefined, (e: Error) => e))?.message ?? '', /invalid_client/);
  });

  test('a wrong secret: invalid_client waits out the back-off; setting the right one lifts it, and the next call refreshes at once', async () => {
    service = await openService({ clientId: BASIC_CLIENT_ID });
    await service.setClientSecret(idp.clientSecret);
    await signIn(service);
    const first = await service.getToken({});
    await service.setClientSecret('a-wrong-secret');
    const refused = await service.getToken({ rejectedAccessToken: first.accessToken }).then(() => undefined, (e: Error & { code?: string }) => e);
    assert.equal(refused?.code, 'idp-rejected');
    assert.match(refused!.message, /invalid_client/);
    const waiting = await service.getToken({ rejectedAccessToken: first.accessToken }).then(() => undefined, (e: Error) => e);
    assert.match(waiting?.message ?? '', /invalid_client/, 'inside the back-off: the same refusal, nothing sent');
    idp.resetCounters();
    await service.setClientSecret(idp.clientSecret);
    const fixed = await service.getToken({ rejectedAccessToken: first.accessToken });
    assert.notEqual(fixed.accessToken, first.accessToken);
    assert.equal(idp.counters().refreshGrants, 1);
  });

  test('a settings change while running lifts a refusal\'s back-off too (it may be the fix the message named)', async (t) => {
    const settings = { issuer: idp.issuer, scopes: ['openid', 'offline_access'], clientId: BASIC_CLIENT_ID };
    service = await openService(settings);
    await service.setClientSecret(idp.clientSecret);
    await signIn(service);
    const first = await service.getToken({});
    await idp.setFault('echo-invalid_request');
    t.after(() => idp.setFault('none'));
    assert.equal((await service.getToken({ rejectedAccessToken: first.accessToken }).then(() => undefined, (e: Error & { code?: string }) => e))?.code, 'idp-rejected');
    await idp.setFault('none');
    assert.equal((await service.getToken({ rejectedAccessToken: first.accessToken }).then(() => undefined, (e: Error & { code?: string }) => e))?.code, 'idp-rejected', 'still inside the back-off');
    await service.configure(parseSettings((key) => ({ ...settings, refreshSkewSeconds: 30 } as Record<string, unknown>)[key]));
    const fixed = await service.getToken({ rejectedAccessToken: first.accessToken });
    assert.notEqual(fixed.accessToken, first.accessToken);
  });

  test('a secret with a line break inside is refused, naming the problem', async () => {
    service = await openService({ clientId: BASIC_CLIENT_ID });
    await assert.rejects(service.setClientSecret('abc\ndef'), /contains a line break or a control character.*Paste only the secret/);
    await assert.rejects(service.setClientSecret('\n'), /The client secret is empty/);
  });
});

describe('a client registered for client_secret_post', () => {
  test('configured "client_secret_post": the secret goes in the form body, for sign-in and refresh', async () => {
    service = await openService({ clientId: POST_CLIENT_ID, clientAuthMethod: 'client_secret_post' });
    await service.setClientSecret(idp.clientSecret);
    idp.resetCounters();
    await signIn(service);
    const first = await service.getToken({});
    await service.getToken({ rejectedAccessToken: first.accessToken });
    assert.equal(idp.counters().refreshGrants, 1);
    assert.deepEqual(idp.counters().tokenAuth, { client_secret_post: 2 });
  });

  test('configured with no secret stored: a config error naming how to set it, before anything is sent', async () => {
    service = await openService({ clientId: POST_CLIENT_ID, clientAuthMethod: 'client_secret_post' });
    idp.resetCounters();
    const err = await signIn(service).then(() => undefined, (e: Error) => e);
    assert.match(err?.message ?? '', /tokenrelay\.clientAuthMethod is "client_secret_post", but no client secret is stored.*Set Client Secret/);
    assert.deepEqual(idp.counters().tokenAuth, {}, 'nothing reached the token endpoint');
  });
});

test('a secret changed by another process after invalid_client is read again (the cached one is forgotten)', async () => {
  let secret = 'wrong-secret';
  let reads = 0;
  const client = new OAuthClient({ issuer: idp.issuer, clientId: BASIC_CLIENT_ID, scopes: ['openid', 'offline_access'] }, undefined, async () => { reads++; return secret; });
  await assert.rejects(client.startDeviceAuthorization(), /invalid_client/);
  secret = idp.clientSecret!;
  const started = await client.startDeviceAuthorization();
  assert.ok(started.device_code);
  await client.startDeviceAuthorization();
  assert.equal(reads, 2, 'read once, again after the refusal, then cached');
});
