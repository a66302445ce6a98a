// `tokenrelay agent`, as real OS processes against the strict test IdP: the agent serves the CLI
// (status says so), refreshes ahead of expiry with nobody asking, serves concurrent CLIs with one
// refresh, lives beside a window process as a peer, exits when idle (not with --stay), keeps a
// refresh it was stopped in the middle of, and `--start` twice leaves one agent. K is in the
// opt-in key file (test/cli/noWindow.test.ts covers the real keyring).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { signInFromTerminal } from '../support/deviceSignIn.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { World } from '../harness/fixture.ts';
import { WindowProcess } from '../harness/windowProcess.ts';
import { processAlive } from '../../src/core/processIdentity.ts';
import { secretKeyOf } from '../../src/app/slots.ts';
import { cliBundle, editDefaultProfile, runChild, waitFor, type CliResult } from './support.ts';

let idp: Idp;
let home: string;
let runtime: string;

/** A plain terminal's environment, its store and config private, K in the key file, sockets in a private runtime directory. */
function agentEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH!, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: runtime,
    TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), TOKENRELAY_KEY_STORE: 'file',
  };
}

async function cli(args: string[]): Promise<CliResult> {
  return runChild(process.execPath, [(await cliBundle()).cliJs, ...args], { env: agentEnv(), cwd: home, timeoutMs: 60_000 });
}

interface Agent {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `tokenrelay agent` in the foreground as a child process; resolves once it serves. */
async function startAgentProcess(args: string[]): Promise<Agent> {
  const child = spawn(process.execPath, [(await cliBundle()).cliJs, 'agent', ...args], { env: agentEnv(), cwd: home, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const agent = { child, stderr: () => stderr, exited };
  await waitFor('the agent to serve', 20_000, () => {
    if (child.exitCode !== null) assert.fail(`the agent exited (${child.exitCode}): ${stderr}`);
    return /Agent pid \d+ serving/.test(stderr);
  });
  return agent;
}

async function stopAgent(agent: Agent | undefined): Promise<void> {
  if (!agent || agent.child.exitCode !== null) return;
  agent.child.kill('SIGTERM');
  await agent.exited;
}

async function status(): Promise<{ host: string; hostPid: number; windowPid: number; expiresAt: string; generation: number; state: string }> {
  const r = await cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function deviceSignIn(): Promise<void> {
  assert.equal(await signInFromTerminal((await cliBundle()).cliJs, agentEnv(), idp, 'dana', home), 0, 'device sign-in');
}

describe('tokenrelay agent', () => {
  before(async () => {
    idp = await startIdp({ accessTokenTtl: 4 });
    home = mkdtempSync(join(tmpdir(), 'tokenrelay-agent-'));
    runtime = mkdtempSync('/tmp/tra-'); // short: the socket path must fit sun_path
    await deviceSignIn();
    editDefaultProfile(join(home, 'config.json'), (profile) => ({ ...profile, refreshSkewSeconds: 1 }));
  });
  after(async () => {
    await idp?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  test('serves tokenrelay token (status: host agent), refreshes ahead of expiry with nobody asking, and 20 concurrent CLIs get one refresh', async () => {
    const agent = await startAgentProcess(['--idle-timeout', '60']);
    try {
      const s = await status();
      assert.deepEqual([s.host, s.hostPid, s.windowPid], ['agent', agent.child.pid, agent.child.pid]);
      const first = await cli(['token']);
      assert.equal(first.code, 0, first.stderr);
      assert.equal((await idp.introspect(first.stdout.trim())).active, true);
      for (let expiry = 1; expiry <= 2; expiry++) {
        const before = await status();
        idp.resetCounters();
        // No CLI runs: only the agent's proactive timer can refresh, and it does so before the token expires.
        await waitFor(`the agent's proactive refresh (expiry ${expiry})`, 10_000, () => idp.counters().refreshGrants === 1);
        assert.ok(Date.now() < Date.parse(before.expiresAt), 'refreshed ahead of expiry');
        await waitFor('the new generation to be served', 5_000, async () => (await status()).generation > before.generation);
        const all = await Promise.all(Array.from({ length: 20 }, () => cli(['token'])));
        for (const r of all) assert.equal(r.code, 0, r.stderr);
        assert.equal(new Set(all.map((r) => r.stdout)).size, 1, 'every CLI got the same token');
        assert.notEqual(all[0].stdout, first.stdout);
        // The CLIs caused no refresh of their own: every refresh the IdP counted is a generation the
        // agent made (its timer may already have made the next one on a slow machine).
        await waitFor(`expiry ${expiry}: every refresh a generation of its own`, 5_000,
          async () => idp.counters().refreshGrants === (await status()).generation - before.generation);
        assert.equal(idp.counters().grantRevocations, 0, `expiry ${expiry}: none revoked`);
        for (const r of all) assert.ok(!r.stderr.includes(r.stdout.trim()), 'no token on stderr');
      }
      assert.ok(!agent.stderr().includes(first.stdout.trim()), 'no token in the agent log');
    } finally {
      await stopAgent(agent);
    }
    assert.equal(await agent.exited, 0, 'SIGTERM stops it cleanly');
    assert.equal(existsSync(join(home, 'state', 'agent.json')), false, 'its record is removed');
    assert.deepEqual(readdirSync(join(runtime, 'tokenrelay')).filter((n) => n.startsWith('term-')), [], 'its socket is removed');
    // With the agent gone the CLI answers from the store (or from another live host of this uid: the test machine may run windows of other suites).
    assert.notEqual((await status()).hostPid, agent.child.pid);
  });

  test('a window process beside the agent: peers (the window gets K from the agent), one refresh per expiry', async () => {
    const agent = await startAgentProcess(['--stay']);
    const world = await World.create({ storeModel: 'shared-lag', idp });
    let win: WindowProcess | undefined;
    try {
      const slotKey = readdirSync(join(home, 'state', 'slots'), { withFileTypes: true }).find((d) => d.isDirectory())!.name;
      // Its own secret store is empty: K can only come from a peer, the agent.
      win = await world.spawn('window', {
        slotDir: join(home, 'state', 'slots', slotKey), secretKey: secretKeyOf(slotKey), socketDir: join(runtime, 'tokenrelay'),
        proactive: true, skewMs: 1000, scopes: ['openid', 'profile', 'offline_access'],
      });
      const [fromWindow] = await win.getTokens(1);
      assert.ok(fromWindow.ok, fromWindow.message);
      for (let expiry = 1; expiry <= 2; expiry++) {
        const before = await status();
        idp.resetCounters();
        await waitFor(`a proactive refresh by the agent or the window (expiry ${expiry})`, 10_000, () => idp.counters().refreshGrants >= 1);
        await waitFor('the new generation to be served', 5_000, async () => (await status()).generation > before.generation);
        const [w] = await win.getTokens(1) as { ok: boolean; token?: string; message?: string }[];
        const c = await cli(['token']);
        assert.equal(c.code, 0, c.stderr);
        assert.ok(w.ok, w.message);
        assert.equal(w.token, c.stdout.trim(), 'the window and the agent hold the same generation');
        assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations], [1, 0], `expiry ${expiry}: one refresh between the two peers`);
      }
    } finally {
      await win?.close();
      await world.close();
      await stopAgent(agent);
    }
  });

  test('sign-in under TOKENRELAY_KEY_STORE=file remembers the key file in the profile: a shell without the variable (cron) opens the session', async () => {
    assert.equal(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).profiles.default.keyStore, 'file');
    const { TOKENRELAY_KEY_STORE: _, ...cron } = agentEnv();
    const r = await runChild(process.execPath, [(await cliBundle()).cliJs, 'token'], { env: cron, cwd: home, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await idp.introspect(r.stdout.trim())).active, true);
  });

  test('exits when idle for --idle-timeout, removing its socket; --stay keeps it past that', async () => {
    const idle = await startAgentProcess(['--idle-timeout', '1']);
    const r = await cli(['token']);
    assert.equal(r.code, 0, r.stderr);
    const code = await Promise.race([idle.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
    assert.equal(code, 0, 'it exited by itself');
    assert.match(idle.stderr(), /Stopping \(idle for 1 s\)/);
    assert.equal(existsSync(join(home, 'state', 'agent.json')), false);

    const staying = await startAgentProcess(['--stay']);
    try {
      await cli(['token']);
      // An observation window, not a synchronisation: longer than the idle agent above took to leave.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(staying.child.exitCode, null, '--stay: still running');
      assert.equal((await status()).host, 'agent');
    } finally {
      await stopAgent(staying);
    }
  });

  test('SIGTERM while its refresh token is at the IdP: the agent waits for the answer and saves it; the next host adopts it, nothing reused', async () => {
    const agent = await startAgentProcess(['--stay']);
    let exitCode: number | null;
    let next: Agent | undefined;
    // The generation the interrupted refresh brings lives 30 s: the next host adopts it without refreshing it.
    idp.setAccessTokenTtl(30);
    try {
      const before = await status();
      idp.resetCounters();
      await idp.setFault('slow'); // the IdP rotates the token and holds its answer
      try {
        await waitFor('the proactive refresh to reach the IdP', 10_000, () => idp.counters().refreshGrants === 1);
        agent.child.kill('SIGTERM');
        await waitFor('the agent to begin stopping', 5_000, () => /Stopping \(SIGTERM\)/.test(agent.stderr()));
        assert.equal(agent.child.exitCode, null, 'it waits for the answer');
      } finally {
        await idp.setFault('none'); // the answer now arrives
      }
      exitCode = await agent.exited;
      assert.equal(exitCode, 0);
      // The next host: a new agent (a CLI with none would read the store alike; an agent keeps this
      // test's answer from any other suite's window of the same uid).
      next = await startAgentProcess(['--stay']);
      const after = await cli(['token']);
      assert.equal(after.code, 0, after.stderr);
      assert.equal((await idp.introspect(after.stdout.trim())).active, true);
      const s = await status();
      assert.deepEqual([s.host, s.hostPid, s.generation], ['agent', next.child.pid, before.generation + 1], 'the generation the stopped agent saved');
      assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations], [1, 0], 'the refresh in flight was kept: no second grant, no reuse');
    } finally {
      idp.setAccessTokenTtl(4);
      await stopAgent(agent);
      await stopAgent(next);
    }
  });

  test('through the agent: sign-in names the terminal sign-in, sign-out revokes, a terminal sign-in is picked up, an edited profile applies', async () => {
    const agent = await startAgentProcess(['--stay']);
    try {
      const signIn = await cli(['sign-in', '--force']);
      assert.equal(signIn.code, 1, signIn.stderr);
      assert.match(signIn.stderr, /agent \(pid \d+\) has no screen to sign in on\. Run "tokenrelay sign-in --device" \(or --browser\) in a terminal/);
      assert.doesNotMatch(signIn.stderr, /at .*\.js:\d+/, 'no stack trace');
      const before = await cli(['token']);
      const out = await cli(['sign-out']);
      assert.equal(out.code, 0, out.stderr);
      assert.equal((await idp.introspect(before.stdout.trim())).active, false, 'revoked at the IdP');
      assert.equal((await cli(['token'])).code, 3, 'signed out');
      await deviceSignIn(); // in this terminal, into the store: the agent watches it
      await waitFor('the agent to serve the new session', 10_000, async () => (await cli(['token'])).code === 0);
      const s = await status();
      assert.deepEqual([s.host, s.state], ['agent', 'signed-in']);
      const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
      writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: { default: { ...config.profiles.default, refreshSkewSeconds: 1, git: { username: 'agent-user' } } } }));
      const edited = JSON.parse((await cli(['status', '--json'])).stdout) as { gitUsername: string; host: string };
      assert.deepEqual([edited.host, edited.gitUsername], ['agent', 'agent-user'], 'the edited file applies at the next request');
      // A profile added to the file is served by the same agent, each with its own settings.
      writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: {
        default: { ...config.profiles.default, refreshSkewSeconds: 1, git: { username: 'agent-user' } },
        lab: { ...config.profiles.default, clientId: 'lab-client', git: { username: 'lab-user' } },
      } }));
      const lab = JSON.parse((await cli(['status', '--json', '--profile', 'lab'])).stdout) as { host: string; profile: string; profiles: string[]; state: string; gitUsername: string };
      assert.deepEqual([lab.host, lab.profile, lab.profiles, lab.state, lab.gitUsername], ['agent', 'lab', ['default', 'lab'], 'signed-out', 'lab-user']);
      assert.equal((await cli(['token'])).code, 0, 'the default profile is still served');
      const nope = await cli(['token', '--profile', 'nope']);
      assert.equal(nope.code, 1);
      assert.match(nope.stderr, /has no profile "nope" \(it has "default", "lab"\)/, 'the agent passed it on; the file says what there is');
      // Another client id in the profile (as "sign-in --issuer … --client-id …" writes it) is another
      // session, not a sign-out of the one windows may still use.
      const held = await cli(['token']);
      writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: { default: { ...config.profiles.default, clientId: 'another-client' } } }));
      assert.equal((await cli(['token'])).code, 3, 'nobody signed in with that client');
      assert.equal((await idp.introspect(held.stdout.trim())).active, true, 'the previous client\'s session is not revoked');
      writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: { default: { ...config.profiles.default, refreshSkewSeconds: 1 } } }));
      assert.equal((await cli(['token'])).code, 0, 'back to the first profile: its session is still there');
    } finally {
      await stopAgent(agent);
    }
  });

  test('bad input: nothing configured, or a bad option, is named with the fix; no agent is left behind', async () => {
    const env = { ...agentEnv(), TOKENRELAY_CONFIG: join(home, 'missing.json') };
    for (const args of [['agent', '--idle-timeout', '5'], ['agent', '--start']]) {
      const r = await runChild(process.execPath, [(await cliBundle()).cliJs, ...args], { env, cwd: home });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /The agent cannot start: nothing is configured for use without a VS Code window \(.*missing\.json does not exist\)\. Run "tokenrelay sign-in --issuer URL --client-id ID"/);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
    assert.equal(existsSync(join(home, 'state', 'agent.json')), false);
    for (const [args, message] of [
      [['--idle-timeout', 'soon'], /--idle-timeout needs a number of seconds, got "soon"/],
      [['--stay', '--idle-timeout', '5'], /use either --stay or --idle-timeout/],
      [['--start', '--foreground'], /use only one of --foreground, --start/],
      [['--idle-timeout', '0'], /more than 0 seconds \(use --stay to never exit when idle\)/],
    ] as const) {
      const r = await cli(['agent', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Run "tokenrelay agent --help" for usage\./);
    }
  });

  test('agent --start twice at once: one agent; a third says it already runs', async () => {
    const [a, b] = await Promise.all([cli(['agent', '--start', '--idle-timeout', '60']), cli(['agent', '--start', '--idle-timeout', '60'])]);
    let pid = 0;
    try {
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const lines = [a.stdout, b.stdout].sort();
      assert.match(lines[0], /^A Token Relay agent already runs \(pid (\d+)\)/);
      assert.match(lines[1], /^Started the Token Relay agent \(pid (\d+)\) on .*; it logs to .*agent\.log\.\n$/);
      pid = Number(/pid (\d+)/.exec(lines[1])![1]);
      assert.equal(Number(/pid (\d+)/.exec(lines[0])![1]), pid, 'both name the same agent');
      const s = await status();
      assert.deepEqual([s.host, s.hostPid], ['agent', pid]);
      const third = await cli(['agent', '--start']);
      assert.match(third.stdout, new RegExp(`^A Token Relay agent already runs \\(pid ${pid}\\)`));
      const log = join(home, 'state', 'agent.log');
      assert.equal(readFileSync(log, 'utf8').match(/serving the profile/g)?.length, 1, 'one agent served');
      assert.equal(statSync(log).mode & 0o777, 0o600, 'its log is private');
      const token = await cli(['token']);
      assert.equal(token.code, 0, token.stderr);
      assert.ok(!readFileSync(log, 'utf8').includes(token.stdout.trim()), 'no token in its log');
      assert.ok(!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(token.stdout.trim()) && !readFileSync(`/proc/${pid}/environ`, 'utf8').includes(token.stdout.trim()), 'nor in its argv or environment');
    } finally {
      if (pid) {
        process.kill(pid, 'SIGTERM');
        await waitFor('the detached agent to exit', 10_000, () => !processAlive(pid));
      }
    }
  });
});
