// A refresher that exits right away must not strand windows whose secret view never updates.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { World, until } from '../harness/fixture.ts';

let world: World | undefined;
afterEach(async () => { await world?.close(); world = undefined; });

test('code-server-like windows adopt the generation of a process that refreshed and exited', { timeout: 60_000 }, async () => {
  world = await World.create({ storeModel: 'snapshot', ttl: 4 });
  await world.signIn();
  const windows = [await world.spawn('tab-1'), await world.spawn('tab-2')];
  await Promise.all(windows.map((w) => w.getTokens(1)));
  world.idp.resetCounters();
  const status = await windows[0].request<{ expiresAt: number }>({ cmd: 'status' });
  await until(status.expiresAt + 10);
  const shortLived = await world.spawn('short-lived', { oneShot: 1 });
  const [refreshed] = await shortLived.oneShotResults();
  assert.ok(refreshed.ok, refreshed.message);
  await shortLived.exited;
  // Both tabs' snapshots still hold the spent generation, and its writer is gone.
  const results = (await Promise.all(windows.map((w) => w.getTokens(3)))).flat();
  assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.message), []);
  assert.ok(results.every((r) => r.token === refreshed.token));
  assert.equal(world.idp.counters().refreshGrants, 1);
  assert.equal(world.idp.counters().grantRevocations, 0);
});
