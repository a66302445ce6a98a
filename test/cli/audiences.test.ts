// Three audiences (RFC 8707) from one grant, against the strict IdP with one store of record:
// - the storm: at one expiry of all three audiences' tokens, 3 window processes (each asking for
//   every audience) and 30 one-shot `tokenrelay token --resource R` processes (10 per audience, in
//   the terminals of one window each: TOKENRELAY_SOCK names it, as VS Code's terminals do);
//   the IdP counts exactly one refresh grant per audience, no reuse, no revocation, and every
//   caller of one audience gets the one token, which introspects with that `aud`;
// - a refused resource: a clear error, every token still served without sign-in, the refresh
//   token that oidc-provider spent while refusing is never presented again (no revocation);
// - a resource that is not an absolute URI: a usage error naming the fix, nothing asked.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { signInFromTerminal } from '../support/deviceSignIn.ts';
import { until } from '../support/wait.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { RESOURCES } from '../idp/config.ts';
import { World } from '../harness/fixture.ts';
import { keySecretOf, secretKeyOf } from '../../src/app/slots.ts';
import { cliBundle, editDefaultProfile, percentile, runChild } from './support.ts';
import type { WindowProcess } from '../harness/windowProcess.ts';
import { ENV_SOCKET } from '../../src/ipc/tokenProtocol.ts';
import type { FarmResult } from './farm.ts';
import { startFarm } from './farmClient.ts';

/** The sign-in's (configured audience's) token outlives the test: no window refreshes it on its own. */
const MAIN_TTL_S = 600;
/** The audiences' first tokens expire during the test; the storm's outlive it. */
const FIRST_TTL_S = 8;
const STORM_TTL_S = 60;

let idp: Idp;
let home: string;
let runtime: string;

let world: World;
let windows: WindowProcess[];

/**
 * A terminal of window `i` (default the first): TOKENRELAY_SOCK names its socket, so no other
 * process of this user (another suite's window) can answer it.
 */
const env = (i = 0): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH!, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: runtime,
  TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), TOKENRELAY_KEY_STORE: 'file',
  ...(windows?.[i]?.socketPath ? { [ENV_SOCKET]: windows[i]!.socketPath } : {}),
});

async function cli(...args: string[]) {
  return runChild(process.execPath, [(await cliBundle()).cliJs, ...args], { env: env(), cwd: home, timeoutMs: 30_000 });
}

/** N one-shot CLI processes in window `i`'s terminals, started together at `at` by a separate process (the test process hosts the IdP). */
async function cliStorm(at: number, count: number, args: string[], i: number): Promise<FarmResult[]> {
  return (await startFarm())({ at, count, command: process.execPath, args: [(await cliBundle()).cliJs, ...args], env: env(i) });
}

before(async () => {
  idp = await startIdp({ accessTokenTtl: MAIN_TTL_S });
  home = mkdtempSync(join(tmpdir(), 'tokenrelay-audiences-'));
  runtime = mkdtempSync('/tmp/tra-'); // short: socket paths must fit sun_path
  assert.equal(await signInFromTerminal((await cliBundle()).cliJs, env(), idp, 'audiences', home), 0, 'device sign-in');
  editDefaultProfile(join(home, 'config.json'), (profile) => ({ ...profile, refreshSkewSeconds: 1 }));
  // Windows on the CLI's store of record: the same slot, K from the same key file, each serving its terminals.
  world = await World.create({ storeModel: 'shared-lag', lagMs: 100, idp });
  const slotKey = readdirSync(join(home, 'state', 'slots'), { withFileTypes: true }).find((d) => d.isDirectory())!.name;
  windows = await Promise.all([1, 2, 3].map((i) => world.spawn(`window-${i}`, {
    slotDir: join(home, 'state', 'slots', slotKey), secretKey: secretKeyOf(slotKey), socketDir: join(runtime, 'tokenrelay'), terminal: true,
    keySecret: keySecretOf(slotKey), keysDir: join(home, 'state', 'keys'), skewMs: 1000, refreshTimeoutMs: 15_000, scopes: ['openid', 'profile', 'offline_access'],
  })));
  assert.ok(windows.every((w) => w.socketPath), 'every window serves its terminals');
});

after(async () => {
  await world?.close();
  await idp?.close();
  rmSync(home, { recursive: true, force: true });
  rmSync(runtime, { recursive: true, force: true });
});

test('three audiences: 3 windows + 30 CLIs at one expiry: one refresh grant per audience, right aud, no reuse, 0 revoked', { timeout: 240_000 }, async () => {
  // Each audience's first token, one refresh each (a missing audience is refreshed for).
  idp.setAccessTokenTtl(FIRST_TTL_S);
  idp.resetCounters();
  const firstTokens = new Map<string, string>();
  for (const resource of RESOURCES) {
    const r = await cli('token', '--resource', resource);
    assert.equal(r.code, 0, r.stderr);
    firstTokens.set(resource, r.stdout.trim());
  }
  const warmedAt = Date.now();
  assert.equal(idp.counters().refreshGrants, RESOURCES.length, 'one refresh per new audience');
  assert.equal(new Set(firstTokens.values()).size, RESOURCES.length);

  {
    // Every window adopts every audience's token from the store: nothing is refreshed.
    for (const resource of RESOURCES) {
      const warm = (await Promise.all(windows.map((w) => w.getTokens(1, { resource })))).flat();
      assert.deepEqual(warm.filter((r) => !r.ok).map((r) => r.message), []);
      assert.deepEqual(new Set(warm.map((r) => r.token)), new Set([firstTokens.get(resource)]));
    }
    assert.equal(idp.counters().refreshGrants, RESOURCES.length, 'the windows adopted, none refreshed');

    // The storm: just after the last of the three first tokens expired (1 s off expires_in, 1 s margin).
    idp.setAccessTokenTtl(STORM_TTL_S);
    idp.resetCounters();
    const at = warmedAt + (FIRST_TTL_S - 1) * 1000 + 50;
    const clis = Promise.all(RESOURCES.map((resource, i) => cliStorm(at, 10, ['token', '--resource', resource], i)));
    await until(at);
    const started = performance.now();
    const windowResults = await Promise.all(RESOURCES.map(async (resource) => ({
      resource, results: (await Promise.all(windows.map((w) => w.getTokens(5, { resource })))).flat(),
    })));
    const cliResults = await clis;
    const wallMs = performance.now() - started;
    const counters = idp.counters();

    const all = cliResults.flat();
    assert.deepEqual(all.filter((r) => r.code !== 0 || !/^\S+\n$/.test(r.stdout)).map((r) => `exit ${r.code}: ${r.stderr.trim()}`), []);
    for (const { results } of windowResults) assert.deepEqual(results.filter((r) => !r.ok).map((r) => `${r.code}: ${r.message}`), []);
    assert.equal(counters.refreshGrants, RESOURCES.length, 'one refresh grant per audience asked for');
    assert.equal(counters.grantRevocations, 0);
    assert.deepEqual(counters.errors, {}, 'no spent refresh token presented');
    for (const [i, resource] of RESOURCES.entries()) {
      const tokens = new Set(cliResults[i]!.map((r) => r.stdout.trim()));
      assert.equal(tokens.size, 1, `all 10 CLIs of ${resource} got the same token`);
      const [token] = [...tokens];
      assert.ok(token !== firstTokens.get(resource), `${resource}: a new token`);
      const held = windowResults[i]!.results;
      assert.deepEqual(new Set(held.map((r) => r.token)), tokens,
        `${resource}: the windows hold the same token (theirs is the first token: ${held.some((r) => r.token === firstTokens.get(resource))}; gens ${[...new Set(held.map((r) => r.gen))]})`);
      const seen = await idp.introspect(token!);
      assert.equal(seen.active, true);
      assert.equal(seen.aud, resource, 'the token is for that audience');
    }
    const ms = all.map((r) => r.ms);
    console.log(`# three audiences: 3 windows × 3 audiences × 5 + 30 CLIs: refresh grants ${counters.refreshGrants}, revocations ${counters.grantRevocations}, wall ${Math.round(wallMs)} ms, CLI p50 ${Math.round(percentile(ms, 50))} ms, p99 ${Math.round(percentile(ms, 99))} ms`);
  }
});

test('a refused resource: a clear error; the other tokens are still served without sign-in, and the spent refresh token is never presented again', { timeout: 60_000 }, async () => {
  const before = await cli('token');
  assert.equal(before.code, 0, before.stderr);
  const forA = await cli('token', '--resource', RESOURCES[0]);
  assert.equal(forA.code, 0, forA.stderr);
  idp.resetCounters();
  const refused = await cli('token', '--resource', 'https://unknown.test');
  assert.equal(refused.code, 1, `${refused.stderr} ${refused.stdout.length} bytes out`);
  assert.match(refused.stderr, /refused a token for the resource https:\/\/unknown\.test \(invalid_target/);
  assert.match(refused.stderr, /RFC 8707 resource indicators/);
  const after1 = await cli('token');
  assert.equal(after1.code, 0, after1.stderr);
  assert.equal(after1.stdout, before.stdout, 'the configured audience\'s token, without sign-in');
  const afterA = await cli('token', '--resource', RESOURCES[0]);
  assert.equal(afterA.code, 0, afterA.stderr);
  assert.equal(afterA.stdout, forA.stdout, 'another audience\'s token, without sign-in');
  const fetched = await cli('fetch', '--resource', RESOURCES[0], idp.apiUrl);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.equal(JSON.parse(fetched.stdout).sub, 'audiences', 'fetch --resource called the API with a live token of the session');
  const counters = idp.counters();
  assert.equal(counters.refreshGrants, 0);
  assert.equal(counters.grantRevocations, 0, 'the refresh token oidc-provider spent while refusing was not presented again');
  assert.ok(!Object.keys(counters.errors).some((e) => /already used/.test(e)), 'no reuse');
  assert.equal((await idp.introspect(after1.stdout.trim())).active, true, 'the grant is alive');
});

test('--resource that is not an absolute URI is a usage error naming the fix', async () => {
  idp.resetCounters();
  const r = await cli('token', '--resource', 'api-a');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--resource "api-a" must be an absolute URI such as https:\/\/api\.example\.com; pass the API's resource indicator, e\.g\. --resource https:\/\/api\.example\.com/);
  const f = await cli('fetch', '--resource', 'x y', 'http://127.0.0.1:1/');
  assert.equal(f.code, 2);
  assert.match(f.stderr, /--resource "x y" must not contain spaces/);
  assert.equal(idp.counters().tokensIssued, 0);
});
