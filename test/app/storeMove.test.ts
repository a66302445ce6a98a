// Moving a session from a window's old store (`<globalStorage>/slots`) into the per-user store,
// against the strict test IdP: no sign-in, no refresh, no revocation; a window still running the
// old layout can never present the moved generation's refresh token, and is told to reload.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Disposable, Logger, SecretStore } from '../../src/core/types.ts';
import { AccountRegistry } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { memoryStore } from '../harness/stores.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

const lines: string[] = [];
const log: Logger = { trace: () => undefined, debug: () => undefined, info: (m) => lines.push(`[info] ${m}`), warn: (m) => lines.push(`[warn] ${m}`), error: (m) => lines.push(`[error] ${m}`) };

let idp: Idp;
let dir: string;
before(async () => { idp = await startIdp({ accessTokenTtl: 300 }); dir = mkdtempSync(join(tmpdir(), 'tokenrelay-move-')); });
after(async () => { await idp.close(); rmSync(dir, { recursive: true, force: true }); });

async function open(secrets: SecretStore, slotsRoot: string, legacySlotsRoot?: string): Promise<AccountService> {
  const service = new AccountService(new AccountRegistry({
    slotsRoot, legacySlotsRoot, store: secrets, log, siblings: (l) => new UnixSiblingChannel(join(dir, 'sockets'), l), rescanIntervalMs: 60_000,
    brokerOptions: { proactive: false },
  }), log);
  await service.configure(parseSettings((key) => ({ issuer: idp.issuer, clientId: idp.clientId })[key]));
  return service;
}

test('a session in the old per-flavour store moves to the per-user store once, without sign-in; an old window is told to reload and never presents it', async () => {
  const secrets = memoryStore(); // one VS Code flavour's SecretStorage: K of the old slot is in it
  const oldRoot = join(dir, 'globalStorage', 'slots');
  const newRoot = join(dir, 'state', 'slots');
  const oldWindow = await open(secrets, oldRoot); // a window of the previous version: old layout only
  const result = await signInWithLoopback(oldWindow.oauthClient(), { openBrowser: async (url) => { await fetch(await completeAuthorization(url, { login: 'alice' })); } });
  await oldWindow.signIn(result.tokens, result.account);
  const before = await oldWindow.getToken({});
  idp.resetCounters();

  const first = await open(secrets, newRoot, oldRoot);
  const second = await open(secrets, newRoot, oldRoot); // a second new window: nothing left to move
  try {
    const moved = await first.getToken({});
    assert.equal(moved.accessToken, before.accessToken, 'the same session, no sign-in');
    assert.equal((await second.getToken({})).accessToken, before.accessToken);
    assert.equal(lines.filter((l) => l.includes('Moved the session of')).length, 1, 'moved exactly once');

    // The old window cannot refresh from the old directory any more: it is told to reload.
    await assert.rejects(oldWindow.getToken({ rejectedAccessToken: before.accessToken }), (err: unknown) => {
      assert.ok(err instanceof TokenRelayError);
      assert.equal(err.code, 'needs-sign-in');
      assert.match(err.message, /moved this sign-in to its per-user store .*reload it/);
      return true;
    });
    assert.equal(idp.counters().refreshGrants, 0, 'the old window presented nothing');

    // The moved session refreshes normally from the new store: the IdP sees one refresh, no revocation.
    const next = await first.getToken({ rejectedAccessToken: before.accessToken });
    assert.notEqual(next.accessToken, before.accessToken);
    assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations], [1, 0]);
    assert.ok(existsSync(join(newRoot, `${first.accounts()[0].id}.json`)), 'the per-user store names the account');
  } finally {
    for (const s of [first, second, oldWindow]) await s.dispose();
  }
});
