// Bad settings, bad servers, bad stored data: a clear error naming the fix, and nothing stored changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig, resolveServer } from '../../src/oauth/serverConfig.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { Broker } from '../../src/core/broker.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { LaggedSharedStore } from '../harness/stores.ts';
import { World, SECRET_KEY } from '../harness/fixture.ts';

const rejectsWith = async (p: Promise<unknown> | (() => unknown), code: string, pattern: RegExp) => {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (err: unknown) => {
    assert.ok(err instanceof TokenRelayError, `not a TokenRelayError: ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace in the message');
    return true;
  });
};

test('malformed or insecure issuer, missing client id: config errors that name the setting and the fix', async () => {
  await rejectsWith(() => validateConfig({ issuer: 'not a url', clientId: 'x', scopes: [] }), 'config', /tokenrelay\.issuer is not a valid URL.*Set tokenrelay\.issuer/);
  await rejectsWith(() => validateConfig({ issuer: 'http://idp.example.com', clientId: 'x', scopes: [] }), 'config', /must use https/);
  await rejectsWith(() => validateConfig({ issuer: 'https://idp.example.com', clientId: ' ', scopes: [] }), 'config', /tokenrelay\.clientId is not set/);
  await rejectsWith(() => validateConfig({ clientId: 'x', scopes: [] }), 'config', /Neither tokenrelay\.issuer nor tokenrelay\.endpoints\.token/);
});

test('unreachable discovery document: an error naming the issuer and what to check', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  await rejectsWith(resolveServer({ issuer: `http://127.0.0.1:${port}`, clientId: 'x', scopes: [] }), 'offline', /ECONNREFUSED during discovery at http:\/\/127\.0\.0\.1/);
});

test('a token response missing required fields: protocol error, nothing stored changes', { timeout: 30_000 }, async () => {
  const world = await World.create({ storeModel: 'shared-lag' });
  try {
    await world.signIn();
    // A server that answers the token endpoint with an empty JSON object.
    const broken = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    await new Promise<void>((r) => broken.listen(0, '127.0.0.1', r));
    const port = (broken.address() as { port: number }).port;
    const client = new OAuthClient({ endpoints: { token: `http://127.0.0.1:${port}/token` }, clientId: 'tokenrelay-test', scopes: [] });
    const store = new LaggedSharedStore(world.storePath, 0);
    const broker = await Broker.create({ slotDir: world.slotDir, secretKey: SECRET_KEY, store, client, proactive: false });
    // The session's refresh token goes only where it came from: here, as if issued by the broken server.
    const signedIn = await broker.getToken();
    await broker.signIn(broker.peek()!.tokens, signedIn.account, await client.origin());
    const storedBefore = await store.get(`${SECRET_KEY}/seal-key`);
    const journalBefore = readdirSync(world.slotDir).filter((n) => n.startsWith('g-'));
    try {
      const current = await broker.getToken();
      await rejectsWith(broker.getToken({ rejectedAccessToken: current.accessToken }).then((g) => { throw new Error(`got a token ${g.generation}`); }),
        'protocol', /not valid OAuth.*Check that tokenrelay\.issuer/);
    } finally {
      await broker.dispose();
      store.close();
      broken.close();
    }
    assert.equal(await new LaggedSharedStore(world.storePath, 0).get(`${SECRET_KEY}/seal-key`), storedBefore);
    assert.deepEqual(readdirSync(world.slotDir).filter((n) => n.startsWith('g-')), journalBefore);
    assert.ok(!readdirSync(world.slotDir).some((n) => n.startsWith('spend-')), 'the unspent claim was given back');
  } finally {
    await world.close();
  }
});

test('a slot directory that cannot be created: names the directory and the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-bad-'));
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const client = new OAuthClient({ endpoints: { token: 'http://127.0.0.1:9/token' }, clientId: 'c', scopes: [] });
    await rejectsWith(() => Broker.create({ slotDir: join(file, 'slot'), secretKey: 'k', store: new LaggedSharedStore(join(dir, 'store'), 0), client }),
      'lock-dir', /cannot write its slot directory .*a-file\/slot.*Make the directory writable/);
    assert.equal(readFileSync(file, 'utf8'), 'not a directory');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt seal key in secret storage: repaired from a live window; alone, a named error with other secrets and the records untouched', { timeout: 30_000 }, async () => {
  const world = await World.create({ storeModel: 'shared-lag', lagMs: 0 });
  try {
    await world.signIn();
    const keyFile = join(world.storePath, encodeURIComponent(`${SECRET_KEY}/seal-key`));
    const other = join(world.storePath, encodeURIComponent('another-extension/secret'));
    writeFileSync(other, 'keep me');
    const holder = await world.spawn('holder');
    const [held] = await holder.getTokens(1);
    const corrupt = () => writeFileSync(keyFile, '{"v":2,"key": garbage');
    corrupt();
    const repaired = await world.spawn('repaired');
    const [r1] = await repaired.getTokens(1);
    assert.ok(r1.ok, r1.message);
    assert.equal(r1.token, held.token, 'the key came from the live window');
    await holder.close();
    await repaired.close();
    corrupt();
    const recordsBefore = readdirSync(world.slotDir).filter((n) => n.startsWith('g-'));
    const lonely = await world.spawn('lonely');
    const [r] = await lonely.getTokens(1);
    assert.equal(r.ok, false);
    assert.equal(r.code, 'key-missing');
    assert.match(r.message!, /the key that seals it is not in VS Code's secret storage.*sign in again/);
    assert.equal((await lonely.request<{ errorCode: string }>({ cmd: 'status' })).errorCode, 'key-missing');
    assert.equal(readFileSync(other, 'utf8'), 'keep me');
    assert.equal(readFileSync(keyFile, 'utf8'), '{"v":2,"key": garbage', 'the core does not delete what it cannot read');
    assert.deepEqual(readdirSync(world.slotDir).filter((n) => n.startsWith('g-')), recordsBefore);
  } finally {
    await world.close();
  }
});
