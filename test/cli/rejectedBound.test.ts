// An API that answers 401 to every token (wrong audience, wrong resource) must not cost the IdP a
// refresh per call. `tokenrelay fetch` in a loop against it, with the real IdP: the first call
// refreshes once and retries once; every later call within TIMEOUTS.rejectedFresh of that refresh
// is answered with the cause instead. So N calls over T ms cost at most 1 + floor(T / 10 000)
// refresh grants, here 1. A window in another OS process decides the same from the sealed record.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { TIMEOUTS } from '../../src/core/timeouts.ts';
import { World } from '../harness/fixture.ts';
import { runCli, startWindow, type TestWindow } from './support.ts';

const CAUSE = /The server rejects freshly issued tokens: check tokenrelay\.resource \/ scopes \/ audience\./;

let world: World;
let win: TestWindow;
let api: { url: string; tokens: string[]; close(): Promise<void> };

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world);
  const tokens: string[] = [];
  const server: Server = createServer((req, res) => {
    tokens.push(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token", error_description="wrong audience"' }).end('denied');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/me`, tokens, close: () => new Promise((r) => server.close(() => r())) };
});

after(async () => {
  await api?.close();
  await win?.close();
  await world?.close();
});

test('N fetches against an API that rejects every token cost at most 1 + elapsed/10 s refreshes, and name the cause', async () => {
  const N = 6;
  world.idp.resetCounters();
  const seenBefore = api.tokens.length;
  const started = Date.now();
  const runs = [];
  for (let i = 0; i < N; i++) runs.push(await runCli(win.server.socketPath, ['fetch', api.url]));
  const elapsedMs = Date.now() - started;
  const { refreshGrants, grantRevocations } = world.idp.counters();
  const bound = 1 + Math.floor(elapsedMs / TIMEOUTS.rejectedFresh);
  assert.ok(refreshGrants >= 1 && refreshGrants <= bound, `${refreshGrants} refresh grants for ${N} calls in ${elapsedMs} ms (bound ${bound})`);
  assert.equal(grantRevocations, 0);
  for (const r of runs) {
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at |unexpected error/, 'no stack trace');
  }
  assert.equal(runs[0].stdout, 'denied', 'the retried call writes the body, as for any status >= 400');
  assert.match(runs[0].stderr, /HTTP 401 Unauthorized from http:\/\/127\.0\.0\.1:\d+\/me after one refresh/);
  // A later call either refreshes once (past TIMEOUTS.rejectedFresh) or names the cause.
  const named = runs.slice(1).filter((r) => CAUSE.test(r.stderr));
  assert.ok(named.length >= N - refreshGrants, `the cause named in ${named.length} of ${N - 1} later calls (${refreshGrants} refreshes):\n${runs.map((r) => r.stderr).join('')}`);
  if (named[0]) assert.match(named[0].stderr, /^tokenrelay: HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/me\. The server rejects freshly issued tokens/);
  // The API saw the signed-in token and one replacement per refresh; each call sent one token, and a
  // call that refreshed sent its replacement once more.
  const sent = api.tokens.slice(seenBefore);
  assert.equal(new Set(sent).size, 1 + refreshGrants, 'the signed-in token and one replacement per refresh');
  assert.equal(sent.length, N + refreshGrants);
});

test('across processes: the window that did not refresh refuses the same report, and the other way round', async () => {
  await world.signInAccount(); // a generation that no rejection produced
  const other = await world.spawn('other', world.accountSlot()); // a window in its own OS process, on the service's slot
  world.idp.resetCounters();
  // This window's CLI refreshes for a rejection; the other process is then asked about the replacement.
  const first = await runCli(win.server.socketPath, ['fetch', api.url]);
  assert.equal(first.code, 1);
  assert.equal(world.idp.counters().refreshGrants, 1);
  const replaced = api.tokens.at(-1)!;
  const [refused] = await other.getTokens(1, { rejectedAccessToken: replaced });
  assert.equal(refused.ok, false);
  assert.equal(refused.code, 'fresh-token-rejected');
  assert.match(refused.message ?? '', CAUSE);
  assert.equal(world.idp.counters().refreshGrants, 1, 'the other process did not refresh');

  // The other process refreshes for a rejection; this window's CLI is then told the cause.
  await world.signInAccount();
  const [signedIn] = await other.getTokens(1);
  const [byOther] = await other.getTokens(1, { rejectedAccessToken: signedIn.token });
  assert.ok(byOther.ok, byOther.message);
  assert.equal(world.idp.counters().refreshGrants, 2);
  const token = await runCli(win.server.socketPath, ['token', '--rejected', '-'], { input: `${byOther.token}\n` });
  assert.equal(token.code, 1, token.stderr);
  assert.equal(token.stdout, '');
  assert.match(token.stderr, CAUSE);
  assert.equal(world.idp.counters().refreshGrants, 2, 'this window did not refresh either');
});
