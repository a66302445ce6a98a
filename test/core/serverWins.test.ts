// When the server says a token is dead and the local clock disagrees, the server wins.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../harness/fixture.ts';

let world: World | undefined;
afterEach(async () => { await world?.close(); world = undefined; });

async function callApi(url: string, token: string): Promise<number> {
  return (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status;
}

// Against both test servers: oidc-provider, and the plain OAuth 2.0 server (no discovery, no id_token).
for (const server of ['oidc-provider', 'oauth2-server'] as const) {
  test(`a token revoked early (${server}): every window reports it, exactly one refresh, all succeed`, { timeout: 60_000 }, async () => {
    world = await World.create({ storeModel: 'snapshot', ttl: 300, server });
    await world.signIn();
    const windows = await Promise.all([1, 2, 3].map((i) => world!.spawn(`w${i}`)));
    const [first] = await windows[0].getTokens(1);
    world.idp.resetCounters();
    assert.ok(world.idp.revokeAccessToken(first.token!));
    assert.equal(await callApi(world.idp.apiUrl, first.token!), 401, 'the API rejects the revoked token');
    // Local clock: still valid for minutes. Without a report, nobody refreshes.
    const unreported = (await Promise.all(windows.map((w) => w.getTokens(3)))).flat();
    assert.ok(unreported.every((r) => r.token === first.token));
    assert.equal(world.idp.counters().refreshGrants, 0);
    const reported = (await Promise.all(windows.map((w) => w.getTokens(10, { rejectedAccessToken: first.token })))).flat();
    assert.deepEqual(reported.filter((r) => !r.ok), []);
    const fresh = new Set(reported.map((r) => r.token));
    assert.equal(fresh.size, 1);
    assert.ok(!fresh.has(first.token));
    assert.equal(world.idp.counters().refreshGrants, 1);
    assert.equal(world.idp.counters().grantRevocations, 0);
    assert.equal(await callApi(world.idp.apiUrl, [...fresh][0]!), 200);
    // A late report of the old token does not refresh again: it was already replaced.
    const late = await windows[1].getTokens(5, { rejectedAccessToken: first.token });
    assert.ok(late.every((r) => r.ok && fresh.has(r.token)));
    assert.equal(world.idp.counters().refreshGrants, 1);
  });
}

for (const offsetMs of [-3600_000, 3600_000]) {
  test(`clock skewed by ${offsetMs / 3600_000} h: works through the server's 401, no revocation`, { timeout: 60_000 }, async () => {
    world = await World.create({ storeModel: 'shared-lag', lagMs: 50, ttl: 4 });
    await world.signIn();
    const honest = await world.spawn('honest');
    const skewed = await world.spawn('skewed', { clockOffsetMs: offsetMs });
    world.idp.resetCounters();
    const deadline = Date.now() + 7000; // spans three expiries
    let calls = 0;
    while (Date.now() < deadline) {
      for (const w of [honest, skewed]) {
        const [r] = await w.getTokens(1);
        assert.ok(r.ok, r.message);
        let status = await callApi(world.idp.apiUrl, r.token!);
        if (status === 401) {
          const [retry] = await w.getTokens(1, { rejectedAccessToken: r.token });
          assert.ok(retry.ok, retry.message);
          status = await callApi(world.idp.apiUrl, retry.token!);
        }
        assert.equal(status, 200, 'one retry after a 401 is always enough');
        calls++;
      }
    }
    const counters = world.idp.counters();
    assert.ok(calls > 20);
    assert.equal(counters.grantRevocations, 0);
    assert.deepEqual(counters.errors, {});
    assert.ok(counters.refreshGrants >= 3, 'expiries were crossed');
  });
}
