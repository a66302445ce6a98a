// The no-window path for bench/cli.ts: warm `tokenrelay token` with VS Code closed (the one-shot
// host reads the store; the token is fresh, so nothing is refreshed), K from the real gnome-keyring
// on a private D-Bus session when its tools are installed, and from the opt-in key file, each
// interleaved with `node -e 0`. Target (issue 17): ratio <= 1.5 for the direct path. And the same
// through a running `tokenrelay agent` (measureThroughAgent), target <= 1.3.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signInFromTerminal } from '../test/support/deviceSignIn.ts';
import { startIdp, type Idp } from '../test/idp/server.ts';
import { keyringToolsPresent, startKeyringSession } from '../test/harness/keyringSession.ts';
import { median } from '../test/cli/support.ts';
import { World } from '../test/harness/fixture.ts';

/** Medians of the same rounds, and their ratio. */
export interface TokenVsNode {
  tokenMs: number;
  nodeMs: number;
  ratio: number;
}

export interface NoWindowFigures extends TokenVsNode {
  keyStore: string;
}

/** A command to time instead of `node dist/cli.js token`. */
export interface Command { cmd: string; argv: string[]; env: NodeJS.ProcessEnv }

export type Timer = (cmd: string, argv: string[], env: NodeJS.ProcessEnv) => Promise<{ ms: number; code: number | null; out: string }>;

export async function measureNoWindow(cliJs: string, rounds: number, time: Timer): Promise<NoWindowFigures[]> {
  const idp = await startIdp({ accessTokenTtl: 3600 });
  const keyring = keyringToolsPresent() ? await startKeyringSession() : undefined;
  const results: NoWindowFigures[] = [];
  try {
    const stores: [string, Record<string, string>][] = [['key file', { TOKENRELAY_KEY_STORE: 'file' }]];
    if (keyring) stores.unshift(['Secret Service (secret-tool)', { DBUS_SESSION_BUS_ADDRESS: keyring.env.DBUS_SESSION_BUS_ADDRESS! }]);
    for (const [keyStore, extra] of stores) {
      const home = mkdtempSync(join(tmpdir(), 'tokenrelay-bench-home-'));
      try {
        // As cron has it: no XDG_RUNTIME_DIR, no DISPLAY, no TOKENRELAY_SOCK; its own store and socket dirs.
        const env = { PATH: process.env.PATH!, HOME: home, TMPDIR: home, TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), ...extra };
        await deviceSignIn(cliJs, env, idp.issuer, idp.clientId);
        results.push({ keyStore, ...(await interleaved(cliJs, rounds, time, { store: env })).store });
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }
  } finally {
    await keyring?.stop();
    await idp.close();
  }
  return results;
}


/**
 * `node -e 0` and `tokenrelay token` answered through each of `via` (an environment each; or a
 * command of its own, as `oidc-token <account>`) in alternating rounds, so all see the same load;
 * the medians, and each one's ratio to node. Each run must print what the first run printed.
 */
export async function interleaved<K extends string>(cliJs: string, rounds: number, time: Timer, via: Record<K, NodeJS.ProcessEnv | Command>): Promise<Record<K, TokenVsNode>> {
  const names = Object.keys(via) as K[];
  const command = (name: K): Command => {
    const v = via[name];
    return 'cmd' in v && Array.isArray(v.argv) ? v as Command : { cmd: process.execPath, argv: [cliJs, 'token'], env: v as NodeJS.ProcessEnv };
  };
  const run = (c: Command) => time(c.cmd, c.argv, c.env);
  const tokens = new Map<K, string>();
  for (const name of names) tokens.set(name, (await run(command(name))).out);
  const n: number[] = [];
  const t = new Map<K, number[]>(names.map((name) => [name, []]));
  for (let i = 0; i < rounds; i++) {
    n.push((await time(process.execPath, ['-e', '0'], command(names[0]).env)).ms);
    for (const name of names) {
      const r = await run(command(name));
      if (r.code !== 0 || r.out !== tokens.get(name)) throw new Error(`${name}: the token command failed (exit ${r.code})`);
      t.get(name)!.push(r.ms);
    }
  }
  const nodeMs = median(n);
  const round = (x: number) => Math.round(x * 100) / 100;
  return Object.fromEntries(names.map((name) => {
    const tokenMs = median(t.get(name)!);
    return [name, { tokenMs: round(tokenMs), nodeMs: round(nodeMs), ratio: round(tokenMs / nodeMs) }];
  })) as Record<K, TokenVsNode>;
}

/**
 * Warm `tokenrelay token` answered by a running `tokenrelay agent` (VS Code closed; K in the key
 * file, as a headless machine has it), interleaved with `node -e 0`. Target (issue 17): ratio <= 1.3.
 */
export async function measureThroughAgent(cliJs: string, rounds: number, time: Timer): Promise<TokenVsNode & { windowProcess: TokenVsNode }> {
  const idp = await startIdp({ accessTokenTtl: 3600 });
  const home = mkdtempSync(join(tmpdir(), 'tokenrelay-bench-agent-'));
  const runtime = mkdtempSync('/tmp/trb-'); // the agent's socket directory: short enough for sun_path
  let agent: ChildProcess | undefined;
  let world: World | undefined;
  try {
    const env = { PATH: process.env.PATH!, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: runtime, TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), TOKENRELAY_KEY_STORE: 'file' };
    await deviceSignIn(cliJs, env, idp.issuer, idp.clientId);
    agent = await startAgent(cliJs, env, time);
    // For comparison in the same rounds: a window as its own OS process (the harness's, a real
    // broker behind the same terminal socket), as a VS Code window is; bench:cli's window rows time
    // a server inside the benchmark process, which needs no wake-up.
    world = await World.create({ storeModel: 'shared-lag', ttl: 3600, idp });
    await world.signIn();
    const win = await world.spawn('window', { terminal: true });
    const viaWindow = { ...env, TOKENRELAY_SOCK: win.socketPath! };
    for (let i = 0; i < 5; i++) { await time(process.execPath, ['-e', '0'], env); await time(process.execPath, [cliJs, 'token'], env); await time(process.execPath, [cliJs, 'token'], viaWindow); }
    const { agent: throughAgent, windowProcess } = await interleaved(cliJs, rounds, time, { agent: env, windowProcess: viaWindow });
    return { ...throughAgent, windowProcess };
  } finally {
    await world?.close();
    await stopChild(agent);
    rmSync(home, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
    await idp.close();
  }
}

/** `tokenrelay agent --stay` in `env` (signed in), once `tokenrelay status` says it answers. */
export async function startAgent(cliJs: string, env: NodeJS.ProcessEnv, time: Timer): Promise<ChildProcess> {
  const agent = spawn(process.execPath, [cliJs, 'agent', '--stay'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let log = '';
    await new Promise<void>((resolve, reject) => {
      agent.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; if (/Agent pid \d+ serving/.test(log)) resolve(); });
      agent.once('exit', (code) => reject(new Error(`the agent exited (${code}): ${log}`)));
    });
    const status = JSON.parse((await time(process.execPath, [cliJs, 'status', '--json'], env)).out) as { host: string };
    if (status.host !== 'agent') throw new Error(`tokenrelay status says host ${status.host}, not the agent`);
    return agent;
  } catch (err) {
    await stopChild(agent);
    throw err;
  }
}

/** SIGTERM, and wait for the exit. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export interface NoWindowStorm {
  processes: number;
  refreshGrants: number;
  revocations: number;
  failed: number;
  distinctTokens: number;
  /** Wall time of every process, failed ones included. */
  p50Ms: number;
  p99Ms: number;
  /** p99 of the processes that got a token (a failed one may have stopped early: lockAndReread gives up after ~5.5 s of lock retries). */
  p99OkMs: number;
}

/**
 * `processes` one-shot CLI processes with no window and no agent, started together once the token
 * has expired: the IdP's own counters say how many refreshes it saw (target: 1, 0 failed).
 */
export async function stormNoWindow(cliJs: string, processes: number, time: Timer): Promise<NoWindowStorm> {
  const idp = await startIdp({ accessTokenTtl: 4 });
  const home = mkdtempSync(join(tmpdir(), 'tokenrelay-bench-storm-'));
  try {
    const env = { PATH: process.env.PATH!, HOME: home, TMPDIR: home, TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), TOKENRELAY_KEY_STORE: 'file' };
    await deviceSignIn(cliJs, env, idp.issuer, idp.clientId);
    const status = JSON.parse((await time(process.execPath, [cliJs, 'status', '--json'], env)).out) as { expiresAt: string };
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(status.expiresAt) - Date.now()) + 50)); // the token's expiry
    idp.resetCounters();
    const runs = await Promise.all(Array.from({ length: processes }, () => time(process.execPath, [cliJs, 'token'], env)));
    return stormFigures(runs, idp);
  } finally {
    rmSync(home, { recursive: true, force: true });
    await idp.close();
  }
}

/** A storm's figures: the IdP's counters since its reset, and each process's wall time (p50, p99). */
export function stormFigures(runs: { ms: number; code: number | null; out: string }[], idp: Idp): NoWindowStorm {
  const ok = runs.filter((r) => r.code === 0);
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
  const at = (sorted: number[], p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN);
  return {
    processes: runs.length, refreshGrants: idp.counters().refreshGrants, revocations: idp.counters().grantRevocations,
    failed: runs.length - ok.length, distinctTokens: new Set(ok.map((r) => r.out)).size, p50Ms: at(ms, 50), p99Ms: at(ms, 99),
    p99OkMs: at(ok.map((r) => r.ms).sort((a, b) => a - b), 99),
  };
}

export async function deviceSignIn(cliJs: string, env: NodeJS.ProcessEnv, issuer: string, clientId: string): Promise<void> {
  const code = await signInFromTerminal(cliJs, env, { issuer, clientId }, 'bench');
  if (code !== 0) throw new Error(`no-window sign-in failed (exit ${code})`);
}
