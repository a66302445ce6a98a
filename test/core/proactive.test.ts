// Refresh shortly before expiry, by one process only, with no caller asking.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../harness/fixture.ts';
import type { WindowEvent } from '../harness/protocol.ts';

let world: World | undefined;
afterEach(async () => { await world?.close(); world = undefined; });

test('proactive refresh: before expiry, once across windows, without any caller', { timeout: 60_000 }, async () => {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 50, ttl: 4 });
  await world.signIn();
  const windows = await Promise.all([1, 2, 3].map((i) => world!.spawn(`w${i}`, { proactive: true, skewMs: 1000 })));
  const [first] = await windows[0].getTokens(1);
  const status = await windows[0].request<{ expiresAt: number }>({ cmd: 'status' });
  world.idp.resetCounters();
  const refreshed = await Promise.race(windows.map((w) => w.waitFor<Extract<WindowEvent, { event: 'broker' }>>(
    (e) => e.event === 'broker' && e.type === 'refreshed' && e.byThisProcess, 10_000, 'proactive refresh')));
  assert.ok(refreshed.at < status.expiresAt, `refreshed ${refreshed.at - status.expiresAt} ms after expiry`);
  const after = (await Promise.all(windows.map((w) => w.getTokens(2)))).flat();
  assert.ok(after.every((r) => r.ok && r.token !== first.token));
  assert.equal(world.idp.counters().refreshGrants, 1, 'the other windows adopted');
  assert.equal(world.idp.counters().grantRevocations, 0);
});
