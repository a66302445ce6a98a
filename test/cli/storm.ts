// The terminal storm: N concurrent `tokenrelay token` processes through one window's socket at the
// instant the access token expires, while two other window processes (separate OS processes with
// their own brokers on the same slot dir) also need a refresh. Used by test/cli/storm.test.ts and
// `npm run bench:cli`. Target: exactly one refresh grant at the IdP, no failures.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { World, until } from '../harness/fixture.ts';
import { cliBundle, percentile, runCli, startWindow, type TestWindow } from './support.ts';
import type { FarmOrder, FarmProgress, FarmReport } from './farm.ts';

export interface TerminalStormOptions {
  invocations: number;
  /** getToken calls each of the two other window processes makes at expiry. */
  windowRequests?: number;
  /** Sample `ps -eo args` during the storm (for the leak check). */
  sampleProcessTable?: boolean;
  /** Told what the storm is doing: each phase, and every 25 CLI calls answered. */
  progress?: (what: string) => void;
}

export interface TerminalStormReport {
  invocations: number;
  refreshGrants: number;
  failed: number;
  distinctTokens: number;
  windowRequests: number;
  windowFailures: number;
  cliMs: { p50: number; p99: number; max: number };
  stormMs: number;
  failures: string[];
  /** Everything that must never contain a token. */
  exposed: { processTable: string[]; logs: string; cliStderr: string };
  issuedTokens: string[];
}

export async function runTerminalStorm(o: TerminalStormOptions): Promise<TerminalStormReport> {
  const progress = o.progress ?? (() => undefined);
  progress('starting the IdP, the farm and the CLI bundle');
  const world = await World.create({ storeModel: 'shared-lag', lagMs: 200, ttl: 6 });
  let win: TestWindow | undefined;
  // The CLI processes are started by a separate process, timed to the expiry.
  const farm = fork(join(__dirname, 'farm.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await new Promise((r) => farm.once('message', r));
    await cliBundle();
    progress('signing in and starting the window and two other window processes');
    await world.signInAccount(); // a 6 s token: it expires during the run
    world.idp.setAccessTokenTtl(300); // the refreshed one outlives the storm
    win = await startWindow(world, { refreshTimeoutMs: 15_000 });
    const others = await Promise.all([world.spawn('window-2', { ...world.accountSlot(), refreshTimeoutMs: 15_000 }), world.spawn('window-3', { ...world.accountSlot(), refreshTimeoutMs: 15_000 })]);
    // Everyone holds the first generation; the terminal path is warm.
    await Promise.all([win.service.getToken(), ...others.map((w) => w.getTokens(1))]);
    const warm = await runCli(win.server.socketPath, ['token'], { viaLauncher: true, env: { VSCODE_TOKENRELAY_NODE: process.execPath } });
    if (warm.code !== 0) throw new Error(`warm-up failed: ${warm.stderr}`);
    const expiresAt = win.service.status().expiresAt!;
    if (expiresAt - Date.now() < 200) throw new Error('setup took longer than the token lifetime');
    world.idp.resetCounters();
    progress(`waiting for the token to expire (in ${((expiresAt - Date.now()) / 1000).toFixed(1)} s), then ${o.invocations} CLI calls at once`);

    const bundle = await cliBundle();
    const report = new Promise<FarmReport>((resolve, reject) => {
      farm.on('message', (m: FarmReport | FarmProgress) => {
        if ('answered' in m) progress(`${m.answered} of ${o.invocations} CLI calls answered`);
        else resolve(m);
      });
      farm.once('exit', (code) => reject(new Error(`farm exited ${code}`)));
    });
    farm.send({
      at: expiresAt + 20, count: o.invocations, command: bundle.launcher, args: ['token'],
      env: { ...process.env, TOKENRELAY_SOCK: win.server.socketPath, VSCODE_TOKENRELAY_NODE: process.execPath },
      sampleProcessTableMs: o.sampleProcessTable ? 25 : undefined,
    } satisfies FarmOrder);
    await until(expiresAt + 20);
    progress(`token expired: ${o.invocations} CLI processes running, the other windows asking too`);
    const started = performance.now();
    const windowRequests = o.windowRequests ?? 20;
    const bursts = others.map((w) => w.getTokens(windowRequests));
    const [{ results: cliResults, processTable }, windowResults] = await Promise.all([report, Promise.all(bursts)]);
    const stormMs = performance.now() - started;

    const failures = [
      ...cliResults.filter((r) => r.code !== 0).map((r) => `cli exit ${r.code}: ${r.stderr.trim()}`),
      ...windowResults.flat().filter((r) => !r.ok).map((r) => `window ${r.code}: ${r.message}`),
    ];
    const tokens = new Set(cliResults.filter((r) => r.code === 0).map((r) => r.stdout.trim()));
    const ms = cliResults.map((r) => r.ms);
    return {
      invocations: o.invocations,
      refreshGrants: world.idp.counters().refreshGrants,
      failed: cliResults.filter((r) => r.code !== 0 || !/^\S+\n$/.test(r.stdout)).length,
      distinctTokens: tokens.size,
      windowRequests: windowRequests * others.length,
      windowFailures: windowResults.flat().filter((r) => !r.ok).length,
      cliMs: { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), max: round(Math.max(...ms)) },
      stormMs: round(stormMs),
      failures,
      exposed: { processTable, logs: `${world.logs()}\n${win.log.lines.join('\n')}`, cliStderr: cliResults.map((r) => r.stderr).join('') },
      issuedTokens: world.idp.issuedTokens(),
    };
  } finally {
    farm.kill();
    await win?.close();
    await world.close();
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
