// Spawns and drives window processes. The harness is bundled once with esbuild so that a window
// starts in tens of milliseconds, like a real extension host's already-loaded code.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Command, WindowConfig, WindowEvent, TokenResult } from './protocol.ts';

const root = join(__dirname, '..', '..');
let bundled: Promise<string> | undefined;

export function harnessBundle(): Promise<string> {
  bundled ??= (async () => {
    const outdir = join(root, '.cache', 'harness');
    mkdirSync(outdir, { recursive: true });
    const outfile = join(outdir, 'window.cjs');
    // Several test processes may build at once: write aside, then rename, so nobody runs half a file.
    const temp = join(outdir, `window.${process.pid}.tmp.cjs`);
    await build({ entryPoints: [join(__dirname, 'window.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: temp, logLevel: 'error' });
    renameSync(temp, outfile);
    return outfile;
  })();
  return bundled;
}

export class WindowProcess {
  readonly events: WindowEvent[] = [];
  readonly exited: Promise<number | null>;
  private nextId = 1;
  private readonly listeners = new Set<(e: WindowEvent) => void>();

  private constructor(readonly child: ChildProcess, readonly config: WindowConfig) {
    child.on('message', (message: WindowEvent) => {
      this.events.push(message);
      for (const l of [...this.listeners]) l(message);
    });
    // 'close' comes after the IPC channel drained, so a last message is never lost to 'exit'.
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve(code ?? signal as unknown as number)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The window's terminal socket (config.terminal). */
  get socketPath(): string | undefined {
    return this.events.find((e): e is Extract<WindowEvent, { event: 'ready' }> => e.event === 'ready')?.socket;
  }

  static async spawn(config: WindowConfig): Promise<WindowProcess> {
    // setpriv drops root's CAP_DAC_OVERRIDE: a 0500 directory then refuses writes with EACCES.
    const unprivileged = config.runAs
      ? { execPath: '/usr/bin/setpriv', execArgv: [`--reuid=${config.runAs.uid}`, `--regid=${config.runAs.gid}`, '--clear-groups', process.execPath] }
      : config.honourFileModes
        ? { execPath: '/usr/bin/setpriv', execArgv: ['--bounding-set', '-dac_override,-dac_read_search', process.execPath] } : {};
    const child = fork(await harnessBundle(), [], {
      env: { ...process.env, TOKENRELAY_HARNESS: JSON.stringify(config) },
      execArgv: [], // the bundle is plain JS: do not inherit the tsx loader (costs ~600 ms per process)
      ...unprivileged,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const win = new WindowProcess(child, config);
    await win.waitFor((e) => e.event === 'ready', 20_000, 'ready');
    return win;
  }

  waitFor<T extends WindowEvent>(match: (e: WindowEvent) => boolean, timeoutMs: number, what: string): Promise<T> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen as T);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.listeners.delete(on); reject(new Error(`${this.config.label}: no "${what}" within ${timeoutMs} ms`)); }, timeoutMs);
      const on = (e: WindowEvent) => { if (match(e)) { clearTimeout(timer); this.listeners.delete(on); resolve(e as T); } };
      this.listeners.add(on);
      void this.exited.then((code) => { if (this.listeners.has(on)) { clearTimeout(timer); this.listeners.delete(on); reject(new Error(`${this.config.label} exited (${code}) before "${what}"`)); } });
    });
  }

  async request<T>(command: Command, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    const reply = this.waitFor<Extract<WindowEvent, { event: 'reply' }>>((e) => e.event === 'reply' && e.id === id, timeoutMs, command.cmd);
    this.child.send({ ...command, id });
    const r = await reply;
    if (r.error) throw new Error(`${this.config.label}: ${r.error}`);
    return r.value as T;
  }

  /** `profile`: a window serving the AccountService (slotsRoot) with config.profiles. */
  getTokens(count: number, options: { rejectedAccessToken?: string; minValidityMs?: number; profile?: string; resource?: string } = {}): Promise<TokenResult[]> {
    return this.request<TokenResult[]>({ cmd: 'getToken', count, ...options });
  }

  /** Edits one profile's settings in a window serving the AccountService, as a settings change does; resolves once applied. */
  configure(profile: string, settings: Record<string, unknown>): Promise<void> {
    return this.request<void>({ cmd: 'configure', profile, settings });
  }

  /** One-shot processes report once and exit. */
  async oneShotResults(timeoutMs = 60_000): Promise<TokenResult[]> {
    const e = await this.waitFor<Extract<WindowEvent, { event: 'oneShot' }>>((x) => x.event === 'oneShot', timeoutMs, 'oneShot');
    return e.results;
  }

  /** Resolves once the process is really stopped (it stops itself right after reporting a hook). */
  async stopped(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'T') {
      if (Date.now() > deadline) throw new Error(`${this.config.label} did not stop within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}
