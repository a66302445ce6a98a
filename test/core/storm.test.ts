// The storm, with real processes against the strict IdP, under both secret-store models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStorm } from '../harness/storm.ts';

for (const storeModel of ['shared-lag', 'snapshot'] as const) {
  test(`storm (${storeModel}): one refresh per expiry, nobody fails, nothing revoked, no token logged`, { timeout: 120_000 }, async () => {
    const report = await runStorm({ storeModel, windows: 4, requestsPerWindow: 25, extraProcesses: 4, expiries: 3, ttl: 3, lagMs: 250, verify: true });
    assert.deepEqual(report.failures, []);
    assert.deepEqual(report.refreshesPerExpiry, [1, 1, 1]);
    assert.equal(report.refreshGrants, 3);
    assert.equal(report.grantRevocations, 0);
    assert.equal(report.inactiveTokens, 0, 'every token handed out introspects as active');
    assert.ok(report.tokensHandedOut.length >= 3, 'each expiry handed out a new token');
    // Tokens never reach the logs, though every window logged its decisions.
    assert.match(report.logs, /Acquired token refresh lock/);
    assert.match(report.logs, /Released token refresh lock/);
    assert.match(report.logs, /Adopted generation/);
    for (const token of report.issuedTokens) assert.ok(!report.logs.includes(token), 'a token leaked into the logs');
  });
}

test('storm at the plain OAuth 2.0 server (family revocation on reuse): one refresh per expiry, nothing revoked', { timeout: 60_000 }, async () => {
  const report = await runStorm({ server: 'oauth2-server', storeModel: 'snapshot', windows: 3, requestsPerWindow: 20, extraProcesses: 2, expiries: 2, ttl: 3, lagMs: 100, verify: true });
  assert.deepEqual(report.failures, []);
  assert.deepEqual(report.refreshesPerExpiry, [1, 1]);
  assert.equal(report.grantRevocations, 0);
  assert.equal(report.inactiveTokens, 0, 'every token handed out introspects as active at the plain server');
  for (const token of report.issuedTokens) assert.ok(!report.logs.includes(token), 'a token leaked into the logs');
});

test('naive clients (no coordination) lose the session in the same storm', { timeout: 60_000 }, async () => {
  // The control: proves the storm really provokes reuse detection at this IdP.
  const report = await runStorm({ storeModel: 'shared-lag', windows: 4, requestsPerWindow: 5, extraProcesses: 0, expiries: 1, ttl: 2, naive: true });
  assert.ok(report.refreshGrants >= 1);
  assert.ok(report.grantRevocations >= 1 || report.failedRequests > 0, 'uncoordinated refreshes were not punished');
});
