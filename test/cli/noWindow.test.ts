// The CLI with VS Code closed: no window, no agent, a clean environment (`env -i`: no
// XDG_RUNTIME_DIR, no DISPLAY), K in a real gnome-keyring on a private D-Bus session. Sign-in by
// device code from the terminal, then tokens from the store across expiries, with the strict IdP's
// own counters as ground truth: one refresh per expiry, no failure, no revocation.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { approveDeviceSignIn } from '../support/deviceSignIn.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { keyringToolsPresent, startKeyringSession, type KeyringSession } from '../harness/keyringSession.ts';
import { cliBundle, dockerHelperBundle, runChild, type CliResult } from './support.ts';
import { SecretToolKeyStore } from '../../src/keystore/secretToolKeyStore.ts';
import { keySecretOf } from '../../src/app/slots.ts';
import { mcpBundle } from '../mcp/bundle.ts';
import { startMcpServer } from '../mcp/mcpServer.ts';

let idp: Idp;
let keyring: KeyringSession;
let home: string;

/** What cron or an SSH session has: no XDG_RUNTIME_DIR, no DISPLAY, no TOKENRELAY_SOCK. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH!, HOME: home, TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'),
    DBUS_SESSION_BUS_ADDRESS: keyring.env.DBUS_SESSION_BUS_ADDRESS!, ...extra,
  };
}

async function cli(args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  return runChild(process.execPath, [(await cliBundle()).cliJs, ...args], { env: cleanEnv(extra), cwd: home, timeoutMs: 60_000 });
}

/** `sign-in --device --json`, approving the code on the IdP's device page as soon as it is printed. */
async function deviceSignIn(args: string[], login: string): Promise<{ code: number | null; events: Record<string, unknown>[]; stderr: string }> {
  const child = spawn(process.execPath, [(await cliBundle()).cliJs, 'sign-in', '--device', '--json', ...args], { env: cleanEnv(), cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const { code, events } = await approveDeviceSignIn(child, idp.issuer, login);
  return { code, events, stderr };
}

/** Waits for a condition the test cannot be told about (an IdP counter, a process's output), bounded. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Waits for the token's expiry, then starts `tokenrelay token` against an IdP that rotates the
 * refresh token and holds its answer (fault "slow"); resolves once the token reached the IdP.
 */
async function refreshHeldAtIdp(): Promise<{ process: ChildProcess; stderr: () => string; exited: Promise<number | null> }> {
  const status = JSON.parse((await cli(['status', '--json'])).stdout) as { expiresAt: string };
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(status.expiresAt) - Date.now()) + 50)); // the token's expiry, not a synchronisation
  idp.resetCounters();
  await idp.setFault('slow');
  const child = spawn(process.execPath, [(await cliBundle()).cliJs, 'token'], { env: cleanEnv(), cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await until(() => idp.counters().refreshGrants === 1, 'the refresh token reached the IdP');
  } catch (err) {
    await idp.setFault('none');
    throw err;
  }
  return { process: child, stderr: () => stderr, exited };
}

describe('with VS Code closed', { skip: !keyringToolsPresent() && 'secret-tool, gnome-keyring-daemon or dbus-daemon missing (scripts/ensure-system-packages.sh installs them)' }, () => {
  before(async () => {
    idp = await startIdp({ accessTokenTtl: 3 });
    keyring = await startKeyringSession();
    home = mkdtempSync(join(tmpdir(), 'tokenrelay-nowindow-'));
  });
  after(async () => {
    await keyring?.stop();
    await idp?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('nothing configured: exit 4 naming sign-in with --issuer and --client-id', async () => {
    const r = await cli(['token']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /No Token Relay window or agent of this user is running .*nothing is configured for use without one .*tokenrelay sign-in --issuer URL --client-id ID/);
  });

  test('sign-in --device --json saves the profile and signs in from the terminal; tokens across expiries: one refresh each, nothing revoked', async () => {
    const signIn = await deviceSignIn(['--issuer', idp.issuer, '--client-id', idp.clientId], 'carol');
    assert.equal(signIn.code, 0, signIn.stderr);
    assert.ok(signIn.events[0].verificationUri && signIn.events[0].userCode, 'the first event is the device prompt');
    assert.deepEqual(signIn.events.at(-1), { signedIn: true, state: 'signed-in', account: signIn.events.at(-1)!.account });
    assert.equal(idp.counters().deviceCodeGrants, 1);
    const profile = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).profiles.default;
    assert.deepEqual(profile, { issuer: idp.issuer, clientId: idp.clientId });
    // Lower the refresh skew so a 3 s token is used until shortly before it expires.
    writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: { default: { ...profile, refreshSkewSeconds: 1 } } }));

    const first = await cli(['token']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await idp.introspect(first.stdout.trim())).active, true);
    idp.resetCounters();
    for (let expiry = 0; expiry < 2; expiry++) {
      const status = JSON.parse((await cli(['status', '--json'])).stdout) as { expiresAt: string; host: string; store: string; keyStore: string };
      assert.equal(status.host, 'direct');
      assert.equal(status.store, join(home, 'state'));
      assert.match(status.keyStore, /Secret Service/);
      // Past the expiry (the IdP's clock, not a synchronisation): every process needs a new token at once.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(status.expiresAt) - Date.now()) + 50));
      const all = await Promise.all(Array.from({ length: 8 }, () => cli(['token'])));
      for (const r of all) assert.equal(r.code, 0, r.stderr);
      assert.equal(new Set(all.map((r) => r.stdout)).size, 1, 'every process got the same new token');
      assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations], [expiry + 1, 0], `expiry ${expiry + 1}`);
    }
    for (const r of [first]) assert.ok(!r.stderr.includes(r.stdout.trim()), 'no token on stderr');
  });

  test('every helper with VS Code closed, each allowed only where the profile says: fetch, exec, git (the real git), kubectl-credential, docker-credential-tokenrelay', async () => {
    const { launcher, binDir } = await cliBundle();
    const docker = await dockerHelperBundle();
    const config = join(home, 'config.json');
    const profile = JSON.parse(readFileSync(config, 'utf8')).profiles.default;
    const withTools = { ...profile, git: { hosts: ['git.example.com'] }, docker: { registries: ['registry.example.com'] }, kubernetes: { clusters: ['k8s.example.com:6443'] } };
    writeFileSync(config, JSON.stringify({ profiles: { default: withTools } }));
    const env = { ...cleanEnv(), PATH: `${binDir}:${process.env.PATH}` };
    const run = (cmd: string, args: string[], input = '', extra: NodeJS.ProcessEnv = {}) => runChild(cmd, args, { env: { ...env, ...extra }, cwd: home, timeoutMs: 60_000, input });
    try {
      const token = (await cli(['token'])).stdout.trim();
      assert.equal((await idp.introspect(token)).active, true);
      assert.equal((await cli(['status', '--json'])).stdout.includes('"host":"direct"'), true, 'no window or agent answers');

      const fetched = await run(launcher, ['fetch', idp.apiUrl]);
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.equal(JSON.parse(fetched.stdout).sub, 'carol');

      const exec = await run(launcher, ['exec', '--', process.execPath, '-e', 'process.stdout.write(process.env.TOKENRELAY_ACCESS_TOKEN ?? "")']);
      assert.equal(exec.stdout, token);

      const git = (host: string) => run('git', ['-c', 'credential.helper=', '-c', `credential.https://${host}.helper=!tokenrelay git-credential`, 'credential', 'fill'],
        `protocol=https\nhost=${host}\n\n`, { GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' });
      const listed = await git('git.example.com');
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^password=${token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      const unlisted = await git('git.other.example');
      assert.doesNotMatch(unlisted.stdout, /password=/, 'a host outside git.hosts gets nothing');

      const cluster = (server: string) => run(launcher, ['kubectl-credential'], '', {
        KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive: false, cluster: { server } } }),
      });
      const allowed = await cluster('https://k8s.example.com:6443');
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.equal(JSON.parse(allowed.stdout).status.token, token);
      const refusedCluster = await cluster('https://k8s.other.example:6443');
      assert.notEqual(refusedCluster.code, 0);
      assert.ok(!refusedCluster.stdout.includes(token));

      const registry = await run(docker.launcher, ['get'], 'registry.example.com');
      assert.equal(registry.code, 0, registry.stderr);
      assert.equal(JSON.parse(registry.stdout).Secret, token);
      const otherRegistry = await run(docker.launcher, ['get'], 'registry.other.example');
      assert.notEqual(otherRegistry.code, 0);
      assert.ok(!otherRegistry.stdout.includes(token));
    } finally {
      writeFileSync(config, JSON.stringify({ profiles: { default: profile } }));
    }
  });

  test('mcp-proxy with no window: "mcp": {"servers"} in the configuration file decides; an unlisted server gets 0 bytes, a listed one the token', async () => {
    await mcpBundle(); // dist/mcp-proxy.js beside the dist/cli.js these tests run
    const server = await startMcpServer(idp);
    const config = join(home, 'config.json');
    const profile = JSON.parse(readFileSync(config, 'utf8')).profiles.default;
    const initialize = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`;
    const proxy = async () => runChild(process.execPath, [(await cliBundle()).cliJs, 'mcp-proxy', server.url], { env: cleanEnv(), cwd: home, timeoutMs: 60_000, input: initialize });
    try {
      writeFileSync(config, JSON.stringify({ profiles: { default: { ...profile, mcp: { servers: ['https://mcp.example.com'] } } } }));
      const refused = await proxy();
      assert.equal(refused.code, 1, refused.stderr);
      assert.equal(refused.stdout, '');
      assert.match(refused.stderr, /^tokenrelay mcp-proxy: Not connecting: http:\/\/127\.0\.0\.1:\d+\/mcp is not in tokenrelay\.mcp\.servers \(https:\/\/mcp\.example\.com\)/);
      assert.equal(server.received().length, 0, '0 bytes reached the unlisted server');
      writeFileSync(config, JSON.stringify({ profiles: { default: { ...profile, mcp: { servers: [new URL(server.url).origin] } } } }));
      const served = await proxy();
      assert.equal(served.code, 0, served.stderr);
      assert.equal((JSON.parse(served.stdout) as { id: number; result: { serverInfo: { name: string } } }).result.serverInfo.name, 'test-remote');
      assert.equal(server.seen.length, 1, 'the listed server got the token');
    } finally {
      writeFileSync(config, JSON.stringify({ profiles: { default: profile } }));
      await server.close();
    }
  });

  for (const [signal, status, title] of [
    ['SIGINT', 130, 'Ctrl+C while the refresh token is at the server: the process finishes the refresh, saves it, then exits; nobody has to sign in again'],
    ['SIGTERM', 143, 'SIGTERM while the refresh token is at the server: the process finishes the refresh, saves it, then exits; nobody has to sign in again'],
    ['SIGHUP', 129, 'SIGHUP (the terminal closed) while the refresh token is at the server: the process finishes the refresh, saves it, then exits; nobody has to sign in again'],
  ] as const) {
    test(title, async () => {
      const child = await refreshHeldAtIdp();
      child.process.kill(signal);
      await until(() => child.stderr().includes('finishing the refresh in progress'), 'the CLI holds the signal');
      await idp.setFault('none'); // the answer now arrives
      assert.equal(await child.exited, status, `it still exits as ended by ${signal} (128 + its number)`);
      const after = await cli(['token']);
      assert.equal(after.code, 0, after.stderr);
      assert.equal((await idp.introspect(after.stdout.trim())).active, true);
      assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations], [1, 0], 'the interrupted refresh was kept: no second refresh, no revocation');
    });
  }

  test('a second Ctrl+C quits at once, saying what is at stake; the spent token is never presented again (needs sign-in, nothing revoked), and a sign-in recovers', async () => {
    const child = await refreshHeldAtIdp();
    child.process.kill('SIGINT');
    await until(() => child.stderr().includes('finishing the refresh in progress'), 'the CLI holds the first Ctrl+C');
    child.process.kill('SIGINT');
    assert.equal(await child.exited, 130);
    await idp.setFault('none');
    assert.match(child.stderr(), /quitting during a refresh; if its answer is lost, other processes may have to sign in again/);
    const after = await cli(['token']);
    assert.equal(after.code, 3, after.stderr);
    assert.match(after.stderr, new RegExp(`pid ${child.process.pid} died while refreshing`));
    assert.equal(idp.counters().grantRevocations, 0);
    assert.deepEqual(idp.counters().errors, {}, 'the refresh token it sent was not presented again');
    const again = await deviceSignIn(['--force'], 'carol');
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await cli(['token'])).code, 0);
  });

  test('K lives in the keyring, not in the store: without the keyring the store cannot be opened, and the message names it', async () => {
    const r = await cli(['token'], { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot read the shared sign-in: the key that seals it is not in the OS keyring.*D-Bus/);
    assert.doesNotMatch(r.stderr, /Sign in again; no other account was changed/, 'a keyring that cannot answer is not a lost sign-in');
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  });

  test("a key in the keyring that disagrees with the store's key-id: named, nothing stored changes, nothing presented; the right key back, the session works", async () => {
    const slotKey = readdirSync(join(home, 'state', 'slots'), { withFileTypes: true }).find((d) => d.isDirectory())!.name;
    const slotDir = join(home, 'state', 'slots', slotKey);
    const keys = new SecretToolKeyStore({ env: keyring.env });
    const right = await keys.get(keySecretOf(slotKey));
    assert.ok(right, 'K is in the keyring');
    const records = () => readdirSync(slotDir, { recursive: true, encoding: 'utf8' }).sort()
      .map((f) => { try { return `${f}:${createHash('sha256').update(readFileSync(join(slotDir, f))).digest('hex')}`; } catch { return f; } });
    const before = records();
    idp.resetCounters();
    await keys.set(keySecretOf(slotKey), JSON.stringify({ v: 2, key: randomBytes(32).toString('base64') }));
    const r = await cli(['token']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /holds a seal key for this slot that is not the one its records name \(key-id [0-9a-f]+\)/);
    assert.match(r.stderr, /The stored sign-in for \w+ cannot be read: the key that opens it is missing or damaged in the OS keyring .*put the key back .*the stored records are kept/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(records(), before, 'the sealed records are untouched');
    assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations], [0, 0], 'nothing presented');
    await keys.set(keySecretOf(slotKey), right!);
    const after = await cli(['token']);
    assert.equal(after.code, 0, after.stderr);
    assert.equal((await idp.introspect(after.stdout.trim())).active, true);
  });

  test('sign-out with no window revokes the grant at the IdP and signs out the store', async () => {
    const before = await cli(['token']);
    assert.equal(before.code, 0, before.stderr);
    const out = await cli(['sign-out']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^Signed out carol in every window and terminal\.\n$/);
    assert.equal((await idp.introspect(before.stdout.trim())).active, false, 'the grant is revoked at the IdP');
    const after = await cli(['token']);
    assert.equal(after.code, 3, after.stderr);
    assert.equal((await cli(['sign-out'])).stdout, 'Nobody was signed in.\n');
  });

  test('sign-out whose revocation the IdP refuses (glewlwyd: 401 to a public client): signed out, exit 1, stderr names the answer and what to do', async (t) => {
    const signIn = await deviceSignIn([], 'carol');
    assert.equal(signIn.code, 0, signIn.stderr);
    const before = await cli(['token']);
    assert.equal(before.code, 0, before.stderr);
    await idp.setFault('revocation-401');
    t.after(() => idp.setFault('none'));
    idp.resetCounters();
    const out = await cli(['sign-out']);
    assert.equal(out.code, 1, 'non-zero: the grant may still be live');
    assert.equal(out.stdout, 'Signed out carol in every window and terminal.\n');
    assert.equal(out.stderr, `tokenrelay: Signed out on this computer. The identity provider did not revoke the grant (HTTP 401, no content type, empty body). The grant may still be active at ${idp.issuer}; revoke it in the provider's account page.\n`);
    assert.equal(idp.counters().faultAnswers, 1);
    assert.equal((await idp.introspect(before.stdout.trim())).active, true, 'what the warning says is true');
    assert.equal((await cli(['token'])).code, 3, 'signed out locally all the same');
  });
});
