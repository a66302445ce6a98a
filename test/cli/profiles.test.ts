// Two servers at once: the strict oidc-provider (the profile "default") and the plain OAuth 2.0
// server (the profile "plain") in ONE window process (the real AccountService, one registry per
// profile) and in the configuration file the CLI reads without a window. One store of record.
// - a storm across both profiles at one expiry: the window and CLI processes, some through the
//   window's socket and some one-shot (no socket): 1 refresh grant per server, 0 revocations, one
//   token per profile, each active at its own server;
// - editing one profile's settings leaves the other's session as it was;
// - `tokenrelay sign-out --profile plain` leaves "default" signed in;
// - bad input (an unknown --profile, profile names differing only in case, a profile written twice)
//   is a named error and changes nothing stored.
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startIdp, type Idp } from '../idp/server.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startPlainServer, type PlainServer } from '../oauth2server/server.ts';
import { completeAuthorization as completePlainAuthorization } from '../oauth2server/login.ts';
import { SCOPES, World } from '../harness/fixture.ts';
import { harnessBundle, type WindowProcess } from '../harness/windowProcess.ts';
import type { TokenResult } from '../harness/protocol.ts';
import { until } from '../support/wait.ts';
import { ProfileHost } from '../../src/app/profileHost.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { fingerprint } from '../../src/core/fingerprint.ts';
import type { Logger } from '../../src/core/types.ts';
import { cliBundle, percentile, runChild, type CliResult } from './support.ts';
import type { FarmResult } from './farm.ts';
import { startFarm } from './farmClient.ts';

/** The sign-in's tokens outlive the set-up (bundles, the window, the farms), then expire together. */
const FIRST_TTL_S = 20;
const LATER_TTL_S = 300;
type Profile = 'default' | 'plain';
const PROFILES: Profile[] = ['default', 'plain'];

let idp: Idp;
let plain: PlainServer;
let home: string;
let runtime: string;
let terminalDir: string;
let world: World;
let win: WindowProcess;
let profileValues: Record<Profile, Record<string, unknown>>;
/** The storm's token of each profile (fingerprints only ever leave this file). */
const stormTokens = new Map<Profile, string>();

const quiet: Logger = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const server = (p: Profile): Idp => (p === 'plain' ? plain : idp);
const configPath = () => join(home, 'config.json');

/** A plain terminal's environment: K in the opt-in key file, sockets in a private runtime directory, no window socket. */
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH!, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: runtime,
  TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: configPath(), TOKENRELAY_KEY_STORE: 'file', ...extra,
});
/** A terminal of the window: its socket named, as VS Code's terminals have it. */
const windowEnv = () => env({ TOKENRELAY_SOCK: win.socketPath });

async function cli(args: string[], environment: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<CliResult> {
  return runChild(process.execPath, [(await cliBundle()).cliJs, ...args], { env: environment, cwd: home, timeoutMs });
}

async function cliStatus(profile: Profile, environment: NodeJS.ProcessEnv): Promise<{ host: string; profile?: string; state: string; generation?: number }> {
  const r = await cli(['status', '--json', '--profile', profile], environment);
  assert.ok(r.code === 0 || r.code === 3, `status --profile ${profile} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function cliToken(profile: Profile, environment: NodeJS.ProcessEnv): Promise<string> {
  const r = await cli(profile === 'default' ? ['token'] : ['token', '--profile', profile], environment);
  assert.equal(r.code, 0, `token --profile ${profile}: ${r.stderr}`);
  return fingerprint(r.stdout.trim());
}

/**
 * Signs in to a profile of the configuration file as the one-shot CLI's host opens it (the per-user
 * store, K in the key file), through the real loopback flow at that profile's server; persisted
 * with service.signIn(…, profile). Returns the sign-in's access token expiry.
 */
async function signIn(profile: Profile): Promise<{ expiresAt: number; token: string }> {
  const host = ProfileHost.open({ env: env(), profile, log: quiet, label: 'cli', watchSlots: false, brokerOptions: { proactive: false } });
  try {
    await host.start();
    const complete = profile === 'plain' ? completePlainAuthorization : completeAuthorization;
    const result = await signInWithLoopback(host.service.oauthClient(), {
      openBrowser: async (url) => { await fetch(await complete(url, { login: 'alice' })); },
    });
    const summary = await host.service.signIn(result.tokens, result.account, undefined, result.origin, profile);
    assert.equal(summary.profile, profile);
    return { expiresAt: result.tokens.expiresAt, token: fingerprint(result.tokens.accessToken) };
  } finally {
    await host.service.dispose();
    assert.equal(host.service.lostOnExit(), undefined, 'the sign-in is in the store of record');
  }
}

/** Every file and directory under `dir` with its size and mtime, and the configuration file's bytes. */
function snapshot(dir: string): string {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    const path = join(d, e.name);
    const s = lstatSync(path);
    const line = `${path.slice(dir.length)} ${s.size} ${s.mtimeMs}`;
    return e.isDirectory() ? [line, ...walk(path)] : [line];
  });
  return [...walk(dir), readFileSync(configPath(), 'utf8')].join('\n');
}

function assertNamedError(r: CliResult, patterns: RegExp[], what: string): void {
  assert.notEqual(r.code, 0, 'a named error, not a success');
  assert.equal(r.signal, null, 'the CLI ended by itself');
  for (const p of patterns) assert.match(r.stderr, p);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  assert.ok(r.stdout === '', 'nothing on standard output'); // never shown: it would be a token
  console.log(`# ${what}: exit ${r.code}: ${r.stderr.trim().replace(/\n/g, ' | ')}`);
}

before(async () => {
  [idp, plain] = await Promise.all([startIdp({ accessTokenTtl: FIRST_TTL_S }), startPlainServer({ accessTokenTtl: FIRST_TTL_S })]);
  home = mkdtempSync(join(tmpdir(), 'tokenrelay-profiles-'));
  runtime = mkdtempSync('/tmp/trp-'); // short: socket paths must fit sun_path
  terminalDir = mkdtempSync('/tmp/trt-'); // the window's terminal socket, outside the CLI's socket directories
  const { authorization, token, revocation, introspection } = plain.endpoints;
  profileValues = {
    default: { issuer: idp.issuer, clientId: idp.clientId, scopes: SCOPES, refreshSkewSeconds: 0 },
    plain: { issuer: plain.issuer, endpoints: { authorization, token, revocation, introspection }, clientId: plain.clientId, scopes: plain.scopes, refreshSkewSeconds: 0 },
  };
  // The configuration file the CLI reads without a window: the same two profiles.
  writeFileSync(configPath(), JSON.stringify({ profiles: profileValues }, null, 2));
  await Promise.all([cliBundle(), harnessBundle()]); // ahead of the sign-ins: their tokens' lifetime is the set-up's budget
  world = await World.create({ storeModel: 'shared-lag', lagMs: 0, idp });
});

after(async () => {
  await world?.close();
  await Promise.all([idp?.close(), plain?.close()]);
  for (const dir of [home, runtime, terminalDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

test('two servers at once: one window and 20 CLI processes across both profiles at one expiry: 1 refresh grant per server, 0 revoked, one token per profile', { timeout: 120_000 }, async () => {
  const signedIn = { default: await signIn('default'), plain: await signIn('plain') };
  idp.resetCounters();
  plain.resetCounters();
  // The storm's generation outlives the rest of the file.
  idp.setAccessTokenTtl(LATER_TTL_S);
  plain.setAccessTokenTtl(LATER_TTL_S);

  win = await world.spawn('two-profiles', {
    slotsRoot: join(home, 'state', 'slots'), keysDir: join(home, 'state', 'keys'), socketDir: join(runtime, 'tokenrelay'),
    terminal: true, terminalSocketDir: terminalDir, skewMs: 0, refreshTimeoutMs: 15_000, scopes: SCOPES,
    profiles: { plain: profileValues.plain },
  });
  for (const profile of PROFILES) {
    const [warm] = await win.getTokens(1, { profile });
    assert.ok(warm.ok, `the window opened the ${profile} session: ${warm.code} ${warm.message}`);
    assert.equal(fingerprint(warm.token!), signedIn[profile].token, `the window serves the ${profile} sign-in`);
    const viaWindow = await cliStatus(profile, windowEnv());
    assert.deepEqual([viaWindow.host, viaWindow.profile, viaWindow.state], ['window', profile, 'signed-in']);
    const oneShot = await cliStatus(profile, env());
    assert.deepEqual([oneShot.host, oneShot.profile, oneShot.state], ['direct', profile, 'signed-in'], 'no window answers a terminal without its socket');
  }

  // 4 groups of 5 CLI processes: each profile through the window and one-shot; the window's own callers too.
  const tokenArgs = async (p: Profile) => [(await cliBundle()).cliJs, 'token', ...(p === 'plain' ? ['--profile', 'plain'] : [])];
  const groups = await Promise.all(PROFILES.flatMap((profile) => [
    { profile, via: 'window', env: windowEnv() }, { profile, via: 'one-shot', env: env() },
  ].map(async (g) => ({ ...g, run: await startFarm(), args: await tokenArgs(profile) }))));
  assert.equal(idp.counters().refreshGrants + plain.counters().refreshGrants, 0, 'the set-up ended before the sign-ins expired');
  const at = Math.max(signedIn.default.expiresAt, signedIn.plain.expiresAt) + 20;
  const clis = Promise.all(groups.map(async (g) => ({ ...g, results: await g.run({ at, count: 5, command: process.execPath, args: g.args, env: g.env }) })));
  await until(at);
  const windowResults = await Promise.all(PROFILES.map(async (profile) => ({ profile, results: await win.getTokens(10, { profile }) })));
  const farmed = await clis;
  const wallMs = Date.now() - at;

  const figures: string[] = [];
  for (const profile of PROFILES) {
    const counters = server(profile).counters();
    const own = windowResults.find((w) => w.profile === profile)!.results;
    const mine = farmed.filter((g) => g.profile === profile);
    const failures = [
      ...own.filter((r: TokenResult) => !r.ok).map((r) => `window: ${r.code}: ${r.message}`),
      ...mine.flatMap((g) => g.results.filter((r) => r.code !== 0 || !/^\S+\n$/.test(r.stdout)).map((r) => `${g.via} CLI exit ${r.code}: ${r.stderr.trim()}`)),
    ];
    assert.deepEqual(failures, [], `every ${profile} caller got a token`);
    const prints = new Set([...own.map((r) => fingerprint(r.token!)), ...mine.flatMap((g) => g.results.map((r) => fingerprint(r.stdout.trim())))]);
    assert.equal(prints.size, 1, `the window and the ${profile} CLI processes (through the window and one-shot) hold one token: ${[...prints].join(', ')}`);
    const [print] = prints;
    assert.notEqual(print, signedIn[profile].token, `a new ${profile} generation`);
    assert.equal(counters.refreshGrants, 1, `one refresh grant at the ${profile} server for its 20 callers`);
    assert.equal(counters.grantRevocations, 0, `no revocation at the ${profile} server`);
    assert.deepEqual(counters.errors, {}, `no spent refresh token presented at the ${profile} server`);
    if (profile === 'plain') assert.equal(plain.counters().reuseDetections, 0);
    assert.equal(counters.authorizationCodeGrants + counters.deviceCodeGrants, 0, 'no new sign-in');
    const token = own[0].token!;
    stormTokens.set(profile, print);
    assert.equal((await server(profile).introspect(token)).active, true, `the ${profile} token is active at its own server`);
    const other = server(profile === 'plain' ? 'default' : 'plain');
    assert.equal((await other.introspect(token)).active, false, `the ${profile} token is not the other server's`);
    const ms = mine.flatMap((g) => g.results.map((r) => r.ms));
    const windowMs = own.map((r) => r.at - r.started);
    figures.push(`${profile}: grants ${counters.refreshGrants}, revocations ${counters.grantRevocations}; ` +
      `CLI p50 ${Math.round(percentile(ms, 50))} ms p99 ${Math.round(percentile(ms, 99))} ms; window p50 ${Math.round(percentile(windowMs, 50))} ms p99 ${Math.round(percentile(windowMs, 99))} ms`);
  }
  assert.notEqual(stormTokens.get('default'), stormTokens.get('plain'));
  console.log(`# two servers, one expiry: window 2 × 10 + 20 CLI processes (2 × 5 through the window, 2 × 5 one-shot) in ${wallMs} ms`);
  for (const line of figures) console.log(`#   ${line}`);
});

test("editing one profile's settings leaves the other profile's session untouched", { timeout: 60_000 }, async () => {
  assert.equal(stormTokens.size, 2, 'the storm ran');
  for (const [edited, other] of [['plain', 'default'], ['default', 'plain']] as [Profile, Profile][]) {
    idp.resetCounters();
    plain.resetCounters();
    const before = await win.request<{ generation?: number }>({ cmd: 'status', profile: other });
    assert.equal(typeof before.generation, 'number', `${other} has a generation to keep`);
    await win.configure(edited, { refreshSkewSeconds: 5 });
    const status = await win.request<{ state: string; generation?: number }>({ cmd: 'status', profile: other });
    assert.equal(status.state, 'signed-in', `editing ${edited} did not sign ${other} out`);
    assert.equal(status.generation, before.generation, `${other} kept its generation`);
    const [served] = await win.getTokens(1, { profile: other });
    assert.ok(served.ok, served.message);
    assert.equal(fingerprint(served.token!), stormTokens.get(other), `the window serves ${other}'s token as before the edit`);
    assert.equal(await cliToken(other, windowEnv()), stormTokens.get(other), `a terminal of the window gets ${other}'s token`);
    assert.equal(await cliToken(other, env()), stormTokens.get(other), `a one-shot CLI gets ${other}'s token`);
    const counters = server(other).counters();
    assert.equal(counters.grantRevocations, 0, `no revocation at ${other}'s server`);
    assert.equal(counters.refreshGrants, 0, `no refresh at ${other}'s server`);
    assert.equal(counters.authorizationCodeGrants + counters.deviceCodeGrants, 0, `no new sign-in at ${other}'s server`);
    // The edited profile itself changed only its skew: it keeps its own session too.
    assert.equal((await win.request<{ state: string }>({ cmd: 'status', profile: edited })).state, 'signed-in');
  }

  // A change of default's issuer signs default's account out (and revokes it at oidc-provider), and nothing of plain's.
  idp.resetCounters();
  plain.resetCounters();
  const moved = `${idp.issuer.replace(/\/$/, '')}/moved`;
  await win.configure('default', { issuer: moved });
  assert.equal((await win.request<{ state: string }>({ cmd: 'status', profile: 'default' })).state, 'signed-out', 'default\'s accounts belonged to the previous issuer');
  assert.equal(idp.counters().grantRevocations, 1, 'the previous issuer\'s grant was revoked');
  assert.equal((await win.request<{ state: string }>({ cmd: 'status', profile: 'plain' })).state, 'signed-in');
  const [plainServed] = await win.getTokens(1, { profile: 'plain' });
  assert.equal(fingerprint(plainServed.token!), stormTokens.get('plain'), 'plain is served as before');
  const plainCounters = plain.counters();
  assert.deepEqual([plainCounters.grantRevocations, plainCounters.revocationRequests, plainCounters.refreshGrants, plainCounters.authorizationCodeGrants],
    [0, 0, 0, 0], 'nothing happened at the plain server');

  // Back to oidc-provider, signed in again there (the CLI's host writes the store; the window reloads it with the edit).
  await signIn('default');
  await win.configure('default', { issuer: idp.issuer });
  const [again] = await win.getTokens(1, { profile: 'default' });
  assert.ok(again.ok, again.message);
  assert.equal((await idp.introspect(again.token!)).active, true);
  stormTokens.set('default', fingerprint(again.token!));
});

test('tokenrelay sign-out --profile plain leaves default signed in; only the plain server sees a revocation', { timeout: 60_000 }, async () => {
  assert.equal(stormTokens.size, 2, 'the storm ran');
  idp.resetCounters();
  plain.resetCounters();
  const r = await cli(['sign-out', '--profile', 'plain'], windowEnv());
  assert.equal(r.code, 0, r.stderr);

  const plainCounters = plain.counters();
  assert.ok(plainCounters.revocationRequests >= 1, 'the plain server was asked to revoke');
  assert.equal(plainCounters.grantRevocations, 1, 'the plain grant was revoked');
  const idpCounters = idp.counters();
  assert.equal(idpCounters.grantRevocations, 0, 'nothing was revoked at oidc-provider');
  assert.equal(idpCounters.refreshGrants, 0);

  assert.equal((await cliStatus('plain', windowEnv())).state, 'signed-out', 'the window says plain is signed out');
  assert.equal((await cliStatus('plain', env())).state, 'signed-out', 'the store says so to a one-shot CLI too');
  assert.equal((await win.request<{ state: string }>({ cmd: 'status', profile: 'plain' })).state, 'signed-out');
  for (const environment of [windowEnv(), env()]) {
    const status = await cliStatus('default', environment);
    assert.deepEqual([status.profile, status.state], ['default', 'signed-in'], `default stays signed in (${status.host})`);
  }
  const token = await cli(['token'], windowEnv());
  assert.equal(token.code, 0, token.stderr);
  assert.equal(fingerprint(token.stdout.trim()), stormTokens.get('default'), 'default\'s token as before');
  assert.equal((await idp.introspect(token.stdout.trim())).active, true, 'and it works at oidc-provider');
  const plainToken = await cli(['token', '--profile', 'plain'], env());
  assert.equal(plainToken.code, 3, `plain has no session: ${plainToken.stderr}`);
});

test('bad input: an unknown --profile, profiles differing only in case, a profile written twice: named errors, nothing stored changes', { timeout: 60_000 }, async () => {
  const store = join(home, 'state');
  const stored = snapshot(store);
  for (const [how, environment] of [['through the window', windowEnv()], ['one-shot', env()]] as const) {
    for (const args of [['token', '--profile', 'nope'], ['status', '--profile', 'nope'], ['sign-out', '--profile', 'nope']]) {
      const r = await cli(args, environment);
      assertNamedError(r, [/"nope"/, new RegExp(configPath().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), /--profile/], `${args.join(' ')} (${how})`);
      assert.equal(snapshot(store), stored, `${args[0]} --profile nope (${how}) changed nothing stored`);
    }
  }

  const { authorization, token } = plain.endpoints;
  const profile = JSON.stringify({ issuer: plain.issuer, endpoints: { authorization, token }, clientId: plain.clientId });
  const cases = [
    { name: 'two profiles differing only in case', text: `{"profiles": {"Plain": ${profile}, "plain": ${profile}}}`, patterns: [/"Plain" and "plain"/, /differ only in letter case/, /Give each profile its own name/] },
    { name: 'a profile written twice', text: `{"profiles": {\n  "plain": ${profile},\n  "plain": ${profile}\n}}`, patterns: [/names "plain" twice/, /Keep one of them/] },
  ];
  for (const c of cases) {
    const path = join(home, `broken-${cases.indexOf(c)}.json`);
    writeFileSync(path, c.text);
    const bytes = readFileSync(path);
    for (const args of [['token', '--profile', 'plain'], ['sign-in', '--profile', 'plain', '--device', '--issuer', plain.issuer, '--client-id', plain.clientId]]) {
      const r = await cli(args, env({ TOKENRELAY_CONFIG: path }), 20_000);
      assertNamedError(r, [new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), ...c.patterns], `${c.name}: ${args[0]}`);
      assert.ok(readFileSync(path).equals(bytes), `${c.name}: ${args[0]} left the file byte for byte as it was`);
      assert.equal(snapshot(store), stored, `${c.name}: ${args[0]} changed nothing stored`);
    }
  }
});
