// Servers that refuse a refresh without RFC 6749 §5.2 JSON, or refuse it for a reason a setting
// explains: counted at the server (`faultAnswers` = token requests the fault answered), across two
// window processes.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { World, until } from '../harness/fixture.ts';

let world: World | undefined;
afterEach(async () => { await world?.close(); world = undefined; });

test('a bare HTTP 400 to a refresh (glewlwyd\'s refusal): presented once, then needs sign-in everywhere; the message names the answer', { timeout: 60_000 }, async () => {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 50, ttl: 4 });
  await world.signIn();
  const a = await world.spawn('a');
  const b = await world.spawn('b');
  const [before] = await a.getTokens(1);
  assert.ok(before.ok, before.message);
  await world.idp.setFault('bare-400');
  world.idp.resetCounters();
  const status = await a.request<{ expiresAt: number }>({ cmd: 'status' });
  await until(status.expiresAt + 10);

  const during = (await Promise.all([a.getTokens(3), b.getTokens(3)])).flat();
  assert.ok(during.every((r) => !r.ok && r.code === 'needs-sign-in'), JSON.stringify(during.map((r) => [r.code, r.message])));
  const refused = during.find((r) => /HTTP 400/.test(r.message ?? ''));
  assert.ok(refused, 'one caller was told the server\'s answer');
  assert.match(refused.message!, /HTTP 400, no content type, empty body, not an OAuth error answer/);
  assert.doesNotMatch(refused.message!, /not valid OAuth|check tokenrelay\.issuer/i, 'no longer misdiagnosed as a wrong issuer');
  await a.waitFor((e) => e.event === 'broker' && e.type === 'needs-sign-in', 10_000, 'needs-sign-in in a');
  await b.waitFor((e) => e.event === 'broker' && e.type === 'needs-sign-in', 10_000, 'needs-sign-in in b');

  // Later calls present nothing: the state is final until a new sign-in.
  const later = (await Promise.all([a.getTokens(2), b.getTokens(2), a.getTokens(1, { rejectedAccessToken: before.token })])).flat();
  assert.ok(later.every((r) => !r.ok && r.code === 'needs-sign-in'), JSON.stringify(later.map((r) => r.code)));
  for (const w of [a, b]) assert.equal((await w.request<{ state: string }>({ cmd: 'status' })).state, 'needs-sign-in');
  const counters = world.idp.counters();
  assert.equal(counters.faultAnswers, 1, 'the refused token was presented exactly once');
  assert.equal(counters.refreshGrants, 0);
  assert.ok(!world.logs().includes(before.token!), 'no token in the windows\' log');
});

test('a JSON refusal other than invalid_grant (invalid_request): the shared back-off bounds it, the message names the settings, the session is kept', { timeout: 60_000 }, async () => {
  world = await World.create({ storeModel: 'shared-lag', lagMs: 50, ttl: 60 });
  await world.signIn();
  // A back-off of 1–2 s: long enough to cover every call below, short enough to outlast in a test.
  const backoff = { baseMs: 2000, capMs: 4000 };
  const a = await world.spawn('a', { backoff });
  const b = await world.spawn('b', { backoff });
  const [before] = await a.getTokens(1);
  await world.idp.setFault('echo-invalid_request');
  world.idp.resetCounters();

  const first = await a.getTokens(1, { rejectedAccessToken: before.token });
  assert.equal(first[0].code, 'idp-rejected', first[0].message);
  assert.match(first[0].message!, /refused the token refresh \(invalid_request: .*Check the tokenrelay settings/);
  const shared = JSON.parse(readFileSync(join(world.slotDir, 'status.json'), 'utf8')) as { offlineUntil: number; refusal?: { code: string; message: string } };
  assert.equal(shared.refusal?.code, 'idp-rejected', 'the back-off is shared with the refusal it is for');
  assert.ok(!shared.refusal.message.includes(before.token!), 'status.json holds no token');

  // Every window, every call, during the back-off: the same refusal, nothing presented.
  const during = (await Promise.all([a.getTokens(3, { rejectedAccessToken: before.token }), b.getTokens(3, { rejectedAccessToken: before.token })])).flat();
  assert.ok(Date.now() < shared.offlineUntil, 'the calls above ran inside the back-off (else the test proves nothing)');
  assert.ok(during.every((r) => !r.ok && r.code === 'idp-rejected' && /invalid_request/.test(r.message!)), JSON.stringify(during.map((r) => [r.code, r.message])));
  assert.equal(world.idp.counters().faultAnswers, 1, 'one presentation for 7 calls from 2 processes');
  assert.equal((await b.request<{ state: string }>({ cmd: 'status' })).state, 'error', 'an error naming the setting, not needs-sign-in: the token was not spent');

  // Once the back-off ends and the server is fixed, the same token refreshes.
  await world.idp.setFault('none');
  await until(shared.offlineUntil + 10);
  const [after] = await b.getTokens(1, { rejectedAccessToken: before.token });
  assert.ok(after.ok, after.message);
  assert.notEqual(after.token, before.token);
  const counters = world.idp.counters();
  assert.deepEqual([counters.faultAnswers, counters.refreshGrants, counters.grantRevocations], [1, 1, 0]);
});
