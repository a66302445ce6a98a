// The mixed storm of issue 17, against the strict IdP with one store of record and no agent:
// - first expiry: 4 window processes (the real broker, each its own OS process) and 100 one-shot
//   `tokenrelay token` processes that no window answers (each reads the store itself);
// - second expiry: the windows are gone; 200 one-shot processes alone.
// Each expiry: exactly 1 refresh grant, 0 failed, 0 revocations, and one token for everyone.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { signInFromTerminal } from '../support/deviceSignIn.ts';
import { until } from '../support/wait.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { World } from '../harness/fixture.ts';
import { keySecretOf, secretKeyOf } from '../../src/app/slots.ts';
import { cliBundle, editDefaultProfile, percentile, runChild } from './support.ts';
import type { FarmResult } from './farm.ts';
import { startFarm } from './farmClient.ts';

/** The first token lives long enough for the set-up; the storm's own generation outlives the storm. */
const FIRST_TTL_S = 12;
const STORM_TTL_S = 25;

let idp: Idp;
let home: string;
let runtime: string;

/** A plain terminal's environment (cron-like: no DISPLAY), K in the opt-in key file, sockets in a private runtime directory. */
const env = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH!, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: runtime,
  TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), TOKENRELAY_KEY_STORE: 'file',
});

async function cliStatus(): Promise<{ host: string; expiresAt: string; generation: number }> {
  const r = await runChild(process.execPath, [(await cliBundle()).cliJs, 'status', '--json'], { env: env(), cwd: home, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** N one-shot CLI processes started together at `at` by a separate process (the test process hosts the IdP). */
async function cliStorm(at: number, count: number): Promise<FarmResult[]> {
  return (await startFarm())({ at, count, command: process.execPath, args: [(await cliBundle()).cliJs, 'token'], env: env() });
}

function summary(results: FarmResult[]) {
  const ok = results.filter((r) => r.code === 0 && /^\S+\n$/.test(r.stdout));
  return {
    failures: results.filter((r) => !ok.includes(r)).map((r) => `exit ${r.code}: ${r.stderr.trim()}`),
    tokens: new Set(ok.map((r) => r.stdout.trim())),
    p99: Math.round(percentile(results.map((r) => r.ms), 99)),
  };
}

before(async () => {
  idp = await startIdp({ accessTokenTtl: FIRST_TTL_S });
  home = mkdtempSync(join(tmpdir(), 'tokenrelay-mixed-'));
  runtime = mkdtempSync('/tmp/trm-'); // short: socket paths must fit sun_path
  assert.equal(await signInFromTerminal((await cliBundle()).cliJs, env(), idp, 'mixed', home), 0, 'device sign-in');
  // The windows and the CLI refresh 1 s ahead of expiry; the storms start just after it, so every caller needs the refresh.
  editDefaultProfile(join(home, 'config.json'), (profile) => ({ ...profile, refreshSkewSeconds: 1 }));
});

after(async () => {
  await idp?.close();
  rmSync(home, { recursive: true, force: true });
  rmSync(runtime, { recursive: true, force: true });
});

test('mixed storm: 4 windows + 100 one-shot CLIs at one expiry, then 200 one-shot CLIs alone at the next: 1 refresh each, 0 failed, 0 revoked', { timeout: 240_000 }, async () => {
  const world = await World.create({ storeModel: 'shared-lag', lagMs: 100, idp });
  try {
    const slotKey = readdirSync(join(home, 'state', 'slots'), { withFileTypes: true }).find((d) => d.isDirectory())!.name;
    // Windows on the CLI's store of record: the same slot, K from the same key file, peers in the same socket directory.
    const windows = await Promise.all([1, 2, 3, 4].map((i) => world.spawn(`window-${i}`, {
      slotDir: join(home, 'state', 'slots', slotKey), secretKey: secretKeyOf(slotKey), socketDir: join(runtime, 'tokenrelay'),
      keySecret: keySecretOf(slotKey), keysDir: join(home, 'state', 'keys'), skewMs: 1000, refreshTimeoutMs: 15_000, scopes: ['openid', 'profile', 'offline_access'],
    })));
    const warm = (await Promise.all(windows.map((w) => w.getTokens(1)))).flat();
    assert.deepEqual(warm.filter((r) => !r.ok), [], 'every window opened the CLI\'s session');
    const first = await cliStatus();
    assert.equal(first.host, 'direct', 'no window answers the CLI: each CLI process reads the store itself');
    assert.equal(warm[0].gen, first.generation);

    // Expiry 1: the windows and 100 CLI processes at once.
    idp.setAccessTokenTtl(STORM_TTL_S);
    idp.resetCounters();
    const at = Date.parse(first.expiresAt) + 20;
    const clis = cliStorm(at, 100);
    await until(at);
    const windowResults = (await Promise.all(windows.map((w) => w.getTokens(25)))).flat();
    const mixed = summary(await clis);
    const mixedCounters = idp.counters();
    assert.deepEqual(mixed.failures, []);
    assert.deepEqual(windowResults.filter((r) => !r.ok).map((r) => `${r.code}: ${r.message}`), []);
    assert.equal(mixedCounters.refreshGrants, 1, 'one refresh grant for 4 windows and 100 CLI processes');
    assert.equal(mixedCounters.grantRevocations, 0);
    assert.deepEqual(mixedCounters.errors, {}, 'no spent refresh token presented');
    assert.equal(mixed.tokens.size, 1, 'every CLI process got the one new token');
    assert.deepEqual(new Set(windowResults.map((r) => r.token)), mixed.tokens, 'the windows hold the same generation');
    console.log(`# expiry 1: 4 windows × 25 + 100 CLIs: grants ${mixedCounters.refreshGrants}, CLI p99 ${mixed.p99} ms`);

    // Expiry 2: no window, no agent; 200 one-shot processes.
    await world.close();
    const second = await cliStatus();
    assert.equal(second.generation, first.generation + 1);
    idp.setAccessTokenTtl(300);
    idp.resetCounters();
    const alone = summary(await cliStorm(Date.parse(second.expiresAt) + 20, 200));
    const aloneCounters = idp.counters();
    assert.deepEqual(alone.failures, []);
    assert.equal(aloneCounters.refreshGrants, 1, 'one refresh grant for 200 CLI processes');
    assert.equal(aloneCounters.grantRevocations, 0);
    assert.deepEqual(aloneCounters.errors, {});
    assert.equal(alone.tokens.size, 1);
    assert.ok(!mixed.tokens.has([...alone.tokens][0]), 'a new generation');
    assert.equal((await idp.introspect([...alone.tokens][0])).active, true);
    console.log(`# expiry 2: 200 CLIs alone: grants ${aloneCounters.refreshGrants}, CLI p99 ${alone.p99} ms`);
  } finally {
    await world.close();
  }
});
