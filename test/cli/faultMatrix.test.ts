// The fault matrix's other actors (test/core/faultMatrix.test.ts has the windows): the agent, and
// the one-shot CLI with no window or agent answering (`tokenrelay token --rejected -`). Each is the
// real bundle as shipped plus failpoints (src/app/failpoints.ts, compiled in only for tests), run
// as TEST_USER with a private runtime directory (no window of another suite can answer), K in the
// key file, the slots on a small tmpfs. At every protocol step it kills (SIGKILL), freezes (SIGSTOP,
// 3 s) or interrupts (SIGINT, SIGTERM, SIGHUP: its own handlers) itself, or freezes while the test
// fills the disk (ENOSPC). A window process and one-shot CLIs share its store; the IdP's counters are the truth.
//
// Every (actor, fault, step) runs under the strict and the reuse-grace IdP, and SIGTERM and SIGHUP
// (a closed terminal) at every step under the strict one: 120 cases, about 4.5 minutes. Each case
// prints how long recovery took and what the IdP counted.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startIdp, type Idp } from '../idp/server.ts';
import { World } from '../harness/fixture.ts';
import { SmallDisk } from '../harness/smallDisk.ts';
import type { WindowProcess } from '../harness/windowProcess.ts';
import type { TokenResult } from '../harness/protocol.ts';
import type { ProtocolStep } from '../../src/core/broker.ts';
import { keySecretOf, secretKeyOf } from '../../src/app/slots.ts';
import { EXIT } from '../../src/ipc/tokenProtocol.ts';
import { TEST_USER, asUser, cliBundle as cliBundleAsShipped, faultableCliBundle, readableCli, readableCopy, waitFor, type CliResult } from './support.ts';
import { runAsTestUser } from './testUserCli.ts';
import { completeAuthorization } from '../idp/login.ts';
import { sleep } from '../support/wait.ts';
import { failpointHooks } from '../../src/app/failpoints.ts';

type Actor = 'cli' | 'agent';
type Fault = 'kill' | 'stop-3s' | Interrupt | 'enospc';
type Interrupt = 'int' | 'term' | 'hup';
/** The signals a host holds until its refresh is durable (src/cli/direct/heldSignals.ts), and the status the CLI then exits with. */
const INTERRUPTS: Record<Interrupt, { signal: NodeJS.Signals; status: number }> = {
  int: { signal: 'SIGINT', status: 130 }, term: { signal: 'SIGTERM', status: 143 }, hup: { signal: 'SIGHUP', status: 129 },
};
const isInterrupt = (f: Fault): f is Interrupt => Object.hasOwn(INTERRUPTS, f);
const STEPS: ProtocolStep[] = ['locked', 'claimed', 'sent', 'answered', 'durable', 'released'];
const FAULTS: Fault[] = ['kill', 'stop-3s', 'int', 'enospc'];
const SCOPES = ['openid', 'offline_access'];
/** How long any call after the fault may take: the real 30 s lock bound is never reached here. */
const CALL_BOUND_MS = 12_000;

/** A spent token that cannot be ruled out: the strict IdP's grant ends (P1), the dead pid named. */
const endsSignedOut = (fault: Fault, step: ProtocolStep, grace: boolean) => fault === 'kill' && !grace && (step === 'sent' || step === 'answered');

/** One IdP per actor and IdP mode; each case on a store of its own. */
class Group {
  idp!: Idp;
  world!: World;
  home = '';
  runtime = '';
  disk: SmallDisk | undefined;
  cliJs = '';
  faultableJs = '';

  constructor(readonly actor: Actor, readonly grace: boolean) {}

  get state(): string { return join(this.home, 'state'); }
  get slotKey(): string { return readdirSync(join(this.state, 'slots'), { withFileTypes: true }).find((d) => d.isDirectory())!.name; }
  get failpointFile(): string { return join(this.home, 'failpoint'); }

  /** A plain terminal of TEST_USER, as test/security/degradedExit.test.ts has it. */
  vars(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH!, HOME: this.home, TMPDIR: this.home, XDG_RUNTIME_DIR: this.runtime,
      TOKENRELAY_HOME: this.state, TOKENRELAY_CONFIG: join(this.home, 'config.json'), TOKENRELAY_KEY_STORE: 'file', ...extra,
    };
  }

  cli(args: string[], input?: string): Promise<CliResult> {
    return runAsTestUser(this.cliJs, this.vars(), args, input);
  }

  async open(): Promise<void> {
    this.idp = await startIdp({ accessTokenTtl: 120, reuseGraceSeconds: this.grace ? 30 : 0 });
    this.world = await World.create({ storeModel: 'shared-lag', idp: this.idp });
    this.cliJs = await readableCli('/tmp/trf-bin-');
    const faultable = await faultableCliBundle();
    this.faultableJs = join(readableCopy('/tmp/trf-fbin-', [faultable.cliJs, join(dirname(faultable.cliJs), 'host.js')]), 'cli.js');
  }

  async close(): Promise<void> {
    await this.world?.close();
    await this.idp?.close();
  }

  /** Each case on its own store (the slots on a small tmpfs), signed in from the terminal. */
  async openStore(): Promise<void> {
    this.home = mkdtempSync('/tmp/trf-home-');
    this.runtime = mkdtempSync('/tmp/trf-'); // short: the socket path must fit sun_path
    mkdirSync(this.state, { mode: 0o700 });
    this.disk = SmallDisk.mount(join(this.state, 'slots'));
    writeFileSync(join(this.home, 'config.json'), JSON.stringify({ profiles: { default: {
      issuer: this.idp.issuer, clientId: this.idp.clientId, scopes: SCOPES,
      // Tokens live 120 s and are refreshed 1 s before expiry: only a reported rejection refreshes here.
      refreshSkewSeconds: 1, refreshTokenReuseGraceSeconds: this.grace ? 30 : 0,
    } } }));
    writeFileSync(this.failpointFile, '');
    for (const path of [this.home, this.runtime, this.state, join(this.state, 'slots'), join(this.home, 'config.json'), this.failpointFile]) chownSync(path, TEST_USER.uid, TEST_USER.gid);
    await this.signIn();
  }

  closeStore(): void {
    this.disk?.unmount();
    this.disk = undefined;
    for (const dir of [this.home, this.runtime]) if (dir) rmSync(dir, { recursive: true, force: true });
    this.home = this.runtime = '';
  }

  /** `sign-in --browser --json`: the authorization URL it prints is completed at the test IdP as a browser would (faster than a device code's 5 s poll). */
  async signIn(): Promise<void> {
    const [cmd, argv] = asUser(TEST_USER, this.vars(), this.cliJs, ['sign-in', '--browser', '--json']);
    const signIn = new Running(spawn(cmd, argv, { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] }));
    let url: string | undefined;
    await waitFor('the authorization URL', 20_000, () => {
      if (signIn.result) assert.fail(`sign-in exited (${signIn.result.code}): ${signIn.stderr}`);
      url = /"authorizationUrl":"([^"]+)"/.exec(signIn.stdout)?.[1];
      return url !== undefined;
    });
    await fetch(await completeAuthorization(url!, { login: 'erin' }));
    assert.equal((await signIn.exited).code, EXIT.ok, signIn.stderr);
  }

  /** A window process of this store beside the actor: the same slot, K from the same key file, its peer socket where hosts look; no terminal socket. */
  sibling(): Promise<WindowProcess> {
    const key = this.slotKey;
    return this.world.spawn('window', {
      slotDir: join(this.state, 'slots', key), secretKey: secretKeyOf(key), keySecret: keySecretOf(key), keysDir: join(this.state, 'keys'),
      socketDir: join(this.runtime, 'tokenrelay'), scopes: SCOPES, runAs: TEST_USER,
      storePath: join(this.home, 'window-secrets'), logFile: join(this.home, 'window.log'), reuseGraceMs: this.grace ? 30_000 : 0,
    });
  }

  /** The faultable bundle as TEST_USER, its failpoint armed; tokens only on its stdin and stdout. */
  spawnActor(args: string[], step: ProtocolStep, action: 'kill' | 'stop' | Interrupt, input?: string): Running {
    const [cmd, argv] = asUser(TEST_USER, this.vars({ TOKENRELAY_FAILPOINT: `${step}:${action}`, TOKENRELAY_FAILPOINT_FILE: this.failpointFile }), this.faultableJs, args);
    const child = spawn(cmd, argv, { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
    return new Running(child, input);
  }

  failpointReached(pid: number): boolean {
    return readFileSync(this.failpointFile, 'utf8').split('\n').some((l) => l.endsWith(` ${pid}`));
  }

  async run(fault: Fault, step: ProtocolStep, name: string): Promise<void> {
    let win: WindowProcess | undefined;
    let actor: Running | undefined;
    try {
      await this.openStore();
      const disk = this.disk!;
      const action = fault === 'kill' || isInterrupt(fault) ? fault : 'stop';
      if (this.actor === 'agent') {
        actor = this.spawnActor(['agent', '--stay'], step, action);
        await waitFor('the agent to serve', 20_000, () => {
          if (actor!.result) assert.fail(`the agent exited (${actor!.result.code}): ${actor!.stderr}`);
          return /Agent pid \d+ serving/.test(actor!.stderr);
        });
      }
      win = await this.sibling();
      const first = await this.cli(['token']);
      assert.equal(first.code, EXIT.ok, first.stderr);
      const t0 = first.stdout.trim();
      const [held] = await win.getTokens(1);
      assert.equal(held.token, t0, 'the window holds the same generation');
      if (this.actor === 'agent') assert.equal(JSON.parse((await this.cli(['status', '--json'])).stdout).host, 'agent');
      this.idp.resetCounters();

      // A server answered 401 to t0: the actor refreshes, and meets its fault at the step.
      const acting = this.actor === 'cli'
        ? (actor = this.spawnActor(['token', '--rejected', '-'], step, action, `${t0}\n`))
        : new Running(spawn(...withOpts(asUser(TEST_USER, this.vars(), this.cliJs, ['token', '--rejected', '-']))), `${t0}\n`);
      const actorPid = actor!.child.pid!;
      await waitFor(`the actor to reach "${step}"`, 20_000, () => {
        if (this.failpointReached(actorPid)) return true;
        if (actor!.result) assert.fail(`the actor exited (${JSON.stringify(actor!.result)}) before "${step}": ${actor!.stderr}`);
        return false;
      });
      const faultAt = Date.now();
      const rejected = { rejectedAccessToken: t0 };
      let outcome = '';

      if (fault === 'kill') {
        assert.equal((await actor!.exited).signal, 'SIGKILL');
      } else if (fault === 'stop-3s') {
        await actor!.stopped();
        // While it is frozen, a caller with nothing to report gets the still-valid token at once (P4).
        const started = Date.now();
        const [plain] = await win.getTokens(1);
        assert.ok(plain.ok, plain.message);
        if (!['durable', 'released'].includes(step)) assert.equal(plain.token, t0);
        assert.ok(Date.now() - started < 1000, `a plain caller waited ${Date.now() - started} ms behind a frozen spender`);
        const reporting = win.getTokens(1, rejected);
        await sleep(3000); // the freeze itself
        actor!.child.kill('SIGCONT');
        const [reported] = await reporting;
        assert.ok(reported.ok, reported.message);
        const done = await acting.exited;
        assert.equal(done.code, EXIT.ok, acting.stderr);
        assert.equal(acting.stdout.trim(), reported.token, 'the frozen spender\'s caller and the reporting window got the same generation');
      } else if (isInterrupt(fault)) {
        const { signal, status } = INTERRUPTS[fault];
        if (this.actor === 'cli') {
          // Ctrl+C (or SIGTERM, SIGHUP) is held until the refresh is answered and durable, then the CLI
          // exits as interrupted (128 + the signal). From "answered" on, what is left runs without a turn of the event loop, so the
          // signal may be seen only once the CLI has saved, printed and released its hold: it then
          // ends by the signal itself, with nothing left to lose.
          const done = await actor!.exited;
          if (done.code === status) {
            assert.match(actor!.stderr, /finishing the refresh in progress so the session is kept/);
            outcome = `held, exit ${status}`;
          } else {
            // After the lock's release ("released") it may be exiting already: then status 0.
            assert.ok(done.signal === signal || done.code === EXIT.ok, `${JSON.stringify(done)}: ${actor!.stderr}`);
            assert.ok(['answered', 'durable', 'released'].includes(step), `${JSON.stringify(done)} at "${step}", before its answer was in hand`);
            assert.ok(actor!.stdout.trim() && actor!.stdout.trim() !== t0, 'it printed the new token first');
            outcome = `saved and printed, then ${done.signal ? `ended by ${signal}` : 'exit 0'}`;
          }
        } else {
          // The agent stops cleanly: it lets the refresh answer, saves it, then exits 0.
          const done = await actor!.exited;
          assert.equal(done.code, 0, actor!.stderr);
          assert.match(actor!.stderr, new RegExp(`Stopping \\(${signal}\\)[\\s\\S]*Stopped`));
          // Its caller's request was in flight: answered before the socket closed.
          const served = await acting.exited;
          assert.equal(served.code, EXIT.ok, acting.stderr);
          assert.notEqual(acting.stdout.trim(), t0);
          outcome = 'its caller served, then exit 0';
        }
      } else {
        await actor!.stopped();
        disk.fill();
        actor!.child.kill('SIGCONT');
        if (this.actor === 'cli') {
          const done = await actor!.exited;
          outcome = `exit ${done.code}`;
          if (step === 'locked') {
            // Nothing presented: the claim cannot be written, and the message names the directory and the fix.
            assert.equal(done.code, EXIT.storage, actor!.stderr);
            assert.match(actor!.stderr, /cannot write its slot directory/);
            assert.equal(this.idp.counters().refreshGrants, 0);
          } else {
            assert.equal(done.code, EXIT.ok, actor!.stderr);
            assert.notEqual(actor!.stdout.trim(), t0);
            if (['claimed', 'sent', 'answered'].includes(step)) {
              // The only copy of the new generation: handed, sealed, to the live window (the peer socket).
              assert.match(safeRead(join(this.home, 'window.log')), new RegExp(`window pid ${win.pid}: Adopted generation \\d+ written by pid ${actorPid} \\(handed over`));
              assert.doesNotMatch(actor!.stderr, /other processes will need a new sign-in/);
              // And the CLI says where its generation went (its error line said it could not write it).
              assert.match(actor!.stderr, new RegExp(`warn: \\[erin\\] Generation \\d+ could not be written here; handed it, sealed, to pid ${win.pid}`));
              const [served] = await win.getTokens(1);
              assert.equal(served.token, actor!.stdout.trim(), 'the window serves the generation the CLI could not write');
            }
          }
        } else {
          const served = await acting.exited;
          outcome = `caller exit ${served.code}`;
          if (step === 'locked') {
            assert.equal(served.code, EXIT.storage, acting.stderr);
            assert.match(acting.stderr, /cannot write its slot directory/);
          } else {
            assert.equal(served.code, EXIT.ok, acting.stderr);
            assert.notEqual(acting.stdout.trim(), t0, 'served from memory');
          }
          assert.equal(actor!.result, undefined, 'the agent keeps running');
        }
        disk.free();
        if (this.actor === 'agent' && step !== 'locked') {
          // Once the directory takes writes again, the agent writes the generation (P5).
          await waitFor('the agent to persist', 15_000, async () => JSON.parse((await this.cli(['status', '--json'])).stdout).state === 'signed-in');
        }
      }
      if (fault !== 'stop-3s' && this.actor === 'agent') await acting.exited;

      // Every live host ends in the same place: the window, and a process asking as a terminal
      // would (through the agent if it lives, else a one-shot CLI answering from the store).
      const agentAlive = this.actor === 'agent' && actor!.result === undefined;
      const started = Date.now();
      const [fromWindow, fromCli] = await Promise.all([win.getTokens(2, rejected), this.cli(['token', '--rejected', '-'], `${t0}\n`)]);
      const endMs = Date.now() - started;
      assert.ok(endMs < CALL_BOUND_MS, `the last callers waited ${endMs} ms`);
      const recoveredMs = Date.now() - faultAt;
      const counters = this.idp.counters();
      assert.equal(counters.grantRevocations, 0, 'no grant revoked');
      assert.deepEqual(counters.errors, {}, 'no spent refresh token presented again');
      for (const r of [actor!, acting]) assert.ok(!r.stderr.includes(t0), 'no token on stderr');
      let end: string;
      if (endsSignedOut(fault, step, this.grace)) {
        assert.ok(fromWindow.every((r) => !r.ok && r.code === 'needs-sign-in'), JSON.stringify(fromWindow));
        assert.match(fromWindow[0].message!, new RegExp(`pid ${actorPid} died while refreshing`));
        assert.equal(fromCli.code, EXIT.notSignedIn, fromCli.stderr);
        assert.match(fromCli.stderr, new RegExp(`pid ${actorPid} died while refreshing`));
        end = 'needs-sign-in';
      } else {
        const tokens = [...fromWindow.map(tokenOf), fromCli.code === EXIT.ok ? fromCli.stdout.trim() : `exit ${fromCli.code}: ${fromCli.stderr}`];
        assert.equal(new Set(tokens).size, 1, `every host holds the one new generation: ${JSON.stringify(tokens.map((t) => t.slice(0, 200)))}`);
        assert.notEqual(tokens[0], t0);
        assert.equal((await this.idp.introspect(tokens[0])).active, true);
        assert.equal(counters.refreshGrants, 1, 'one refresh for the whole episode');
        assert.equal((await win.request<{ state: string }>({ cmd: 'status' })).state, 'signed-in');
        end = 'recovered';
      }
      if (this.grace && fault === 'kill') assert.ok(counters.graceReuses <= 1, 'at most one presentation inside the grace');
      console.log(`# ${name}: ${end} in ${recoveredMs} ms${outcome ? ` (${outcome})` : ''}; grants ${counters.refreshGrants}, grace reuses ${counters.graceReuses}, revocations ${counters.grantRevocations}${agentAlive ? '; agent alive' : ''}`);
    } catch (err) {
      console.error(`--- actor's stderr ---\n${actor?.stderr}\n--- window log ---\n${safeRead(join(this.home, 'window.log')).split('\n').slice(-40).join('\n')}`);
      throw err;
    } finally {
      this.disk?.free();
      if (actor && !actor.result) {
        actor.child.kill('SIGCONT');
        actor.child.kill('SIGTERM');
        await Promise.race([actor.exited, sleep(10_000)]);
        if (!actor.result) actor.child.kill('SIGKILL');
      }
      await win?.close();
      this.closeStore();
    }
  }
}

const withOpts = ([cmd, argv]: [string, string[]]): [string, string[], { cwd: string; stdio: ['pipe', 'pipe', 'pipe'] }] => [cmd, argv, { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] }];
const tokenOf = (r: TokenResult) => (r.ok ? r.token! : `${r.code}: ${r.message}`);
const safeRead = (path: string) => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };

/** A child process whose output is collected and whose end is awaited. */
class Running {
  stdout = '';
  stderr = '';
  result: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess, input?: string) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input ?? '');
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve(this.result = { code, signal })));
  }

  /** Resolves once the process is really stopped (it stops itself right after reporting the step). */
  async stopped(): Promise<void> {
    await waitFor(`pid ${this.child.pid} to stop`, 5000, () => readFileSync(`/proc/${this.child.pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'T', 5);
  }
}

for (const actor of ['cli', 'agent'] as Actor[]) {
  for (const grace of [false, true]) {
    describe(`fault matrix, the ${actor === 'cli' ? 'one-shot CLI' : 'agent'} (${grace ? 'reuse-grace' : 'strict'} IdP)`, () => {
      const g = new Group(actor, grace);
      before(() => g.open());
      after(() => g.close());
      for (const fault of grace ? FAULTS : [...FAULTS, 'term', 'hup'] as Fault[]) {
        for (const step of STEPS) {
          const name = `${actor}: ${fault} at "${step}" (${grace ? 'reuse-grace' : 'strict'} IdP)`;
          test(name, { timeout: 90_000 }, () => g.run(fault, step, name));
        }
      }
    });
  }
}

// A one-shot CLI that refreshed on a full disk handed the only copy of G+1 to a live window and
// exited; its claim on G stays, marked sent, with its pid now dead. Once the disk takes writes again
// and before the window's next retry writes G+1, another process that reports G's token rejected
// takes the lock and finds that dead claim: it must take G+1 from the window (asking the live
// siblings first), not end the sign-in. The disk stays full long enough for the window's retries to
// back off to seconds apart (500 ms doubling), so the new CLI comes in between.
describe('fault matrix: a generation handed over on a full disk, and a dead claim beside it', () => {
  const g = new Group('cli', false);
  before(() => g.open());
  after(() => g.close());

  test('after the disk frees and before the window writes it, a CLI reporting the old token takes the handed-over generation from the window: no needs-sign-in, 1 refresh', { timeout: 90_000 }, async () => {
    await g.openStore();
    const disk = g.disk!;
    let win: WindowProcess | undefined;
    try {
      win = await g.sibling();
      const first = await g.cli(['token']);
      assert.equal(first.code, EXIT.ok, first.stderr);
      const t0 = first.stdout.trim();
      g.idp.resetCounters();
      const actor = g.spawnActor(['token', '--rejected', '-'], 'answered', 'stop', `${t0}\n`);
      await waitFor('the actor to reach "answered"', 20_000, () => g.failpointReached(actor.child.pid!));
      await actor.stopped();
      disk.fill();
      actor.child.kill('SIGCONT');
      assert.equal((await actor.exited).code, EXIT.ok, actor.stderr);
      const handed = actor.stdout.trim();
      assert.notEqual(handed, t0);
      assert.equal((await win.getTokens(1))[0].token, handed, 'the window holds the handed-over generation');
      await sleep(8000); // the full disk itself, while the window's write retries back off
      disk.free();
      const racing = await runAsTestUser(g.cliJs, g.vars({ TOKENRELAY_LOG: 'info' }), ['token', '--rejected', '-'], `${t0}\n`);
      assert.equal(racing.code, EXIT.ok, racing.stderr);
      assert.equal(racing.stdout.trim(), handed, 'the handed-over generation, not a new sign-in');
      assert.match(racing.stderr, new RegExp(`pid ${win.pid} held it \\(handed over by a process that could not write it\\); taken from there`));
      assert.ok(!racing.stderr.includes(t0) && !racing.stderr.includes(handed), 'no token on stderr');
      const after = await g.cli(['token']);
      assert.equal(after.stdout.trim(), handed, 'durable: a new process reads it from the store');
      // The window's next retry finds G+1 written and takes the store's copy.
      await waitFor('the window to leave degraded', 15_000, async () => (await win!.request<{ state: string }>({ cmd: 'status' })).state === 'signed-in');
      assert.equal((await win.getTokens(1))[0].token, handed);
      const counters = g.idp.counters();
      assert.deepEqual([counters.refreshGrants, counters.grantRevocations, counters.errors], [1, 0, {}]);
    } finally {
      disk.free();
      await win?.close();
      g.closeStore();
    }
  });
});

test('failpoints are compiled out of the bundle as shipped: its host.js never reads TOKENRELAY_FAILPOINT; the faultable one does; from source they are off', async () => {
  assert.equal(failpointHooks({ TOKENRELAY_FAILPOINT: 'sent:kill', TOKENRELAY_FAILPOINT_FILE: '/dev/null' }), undefined, 'under tsx: off, and no ReferenceError');
  const hostOf = async (b: Promise<{ cliJs: string }>) => readFileSync(join(dirname((await b).cliJs), 'host.js'), 'utf8');
  assert.ok(!(await hostOf(cliBundleAsShipped())).includes('TOKENRELAY_FAILPOINT'), 'nothing of the failpoints in the shipped build');
  assert.ok((await hostOf(faultableCliBundle())).includes('TOKENRELAY_FAILPOINT'), 'the test build has them (so the check above can fail)');
});
