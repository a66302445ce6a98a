// A reuse-grace replay carries the expiry of its first use: a token presented again under a retry
// claim (its first claimer died after sending) is answered, inside the IdP's reuse grace, with the
// first answer, dated when it was first sent. Its expiry must count from then, never from the retry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/core/broker.ts';
import { silentLogger } from '../../src/core/redact.ts';
import type { RefreshClient, TokenSet } from '../../src/core/types.ts';
import { SnapshotStore } from '../harness/stores.ts';

const LIFETIME_MS = 60_000;

test('a token presented again inside the reuse grace counts its expiry from its first presentation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-replay-'));
  let n = 0;
  const issue = (): TokenSet => {
    const at = Date.now(); // as the OAuth client dates an answer: from its own send
    n++;
    return { accessToken: `access-${n}-${'x'.repeat(32)}`, refreshToken: `refresh-${n}-${'y'.repeat(32)}`, tokenType: 'Bearer', obtainedAt: at, expiresAt: at + LIFETIME_MS };
  };
  const client: RefreshClient = { origin: async () => ({ tokenEndpoint: 'https://idp.test/token', issuer: 'https://idp.test', clientId: 'tokenrelay' }), refresh: async () => issue(), revoke: async () => undefined };
  const broker = await Broker.create({
    slotDir: join(dir, 'slot'), secretKey: 'tokenrelay/v1/slot', store: new SnapshotStore(join(dir, 'secrets.json')), client,
    log: silentLogger, proactive: false, reuseGraceMs: 60_000,
  });
  try {
    const signedIn = issue();
    await broker.signIn(signedIn, { id: 'u1', label: 'User One' });
    // Generation 1's refresh token was sent 5 s ago by a process that died before saving the answer.
    const firstAt = Date.now() - 5_000;
    writeFileSync(join(dir, 'slot', 'spend-1'), JSON.stringify({ gen: 1, seq: 0, owner: { pid: 2 ** 22 + 12345, id: 'dead-claimer' }, at: firstAt }));
    const grant = await broker.getToken({ rejectedAccessToken: signedIn.accessToken });
    assert.notEqual(grant.accessToken, signedIn.accessToken, 'presented again under a retry claim');
    assert.ok(grant.expiresAt <= firstAt + LIFETIME_MS, `expiry ${grant.expiresAt - (firstAt + LIFETIME_MS)} ms past the first answer's`);
  } finally {
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
