// Test and benchmark support for the terminal path: the CLI bundled exactly as shipped (esbuild,
// launcher next to dist/), a window serving the real AccountService, a terminal socket server in
// front of it, and helpers to run the CLI as a child process.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { TokenRelayError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/types.ts';
import type { AccountService } from '../../src/app/accountService.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { serveTerminals, type TerminalServer } from '../../src/ipc/tokenServer.ts';
import { readGitHosts, readKubernetesClusters, readMcpServers } from '../../src/app/settings.ts';
import { completeAuthorization } from '../idp/login.ts';
import type { World } from '../harness/fixture.ts';

export const repoRoot = join(__dirname, '..', '..');

// ---- the CLI, bundled as shipped ----------------------------------------------------------------

export interface CliBundle {
  /** A fake extension folder: <dir>/bin/tokenrelay and <dir>/dist/cli.js. */
  extensionDir: string;
  cliJs: string;
  launcher: string;
  binDir: string;
}

let bundle: Promise<CliBundle> | undefined;
let faultable: Promise<CliBundle> | undefined;

export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode'],
  minify: true, legalComments: 'none', logLevel: 'error', banner: { js: '#!/usr/bin/env node' },
  define: { TOKENRELAY_FAILPOINTS: 'false' },
};

/** Bundles src/cli/main.ts with the options of esbuild.mjs (production) into a private folder. */
export function cliBundle(): Promise<CliBundle> {
  bundle ??= bundleCli(BUNDLE_OPTIONS);
  return bundle;
}

/**
 * The same bundle with the failpoints compiled in (src/app/failpoints.ts): a process started with
 * TOKENRELAY_FAILPOINT kills, freezes or interrupts itself at a protocol step. Test-only; never shipped.
 */
export function faultableCliBundle(): Promise<CliBundle> {
  faultable ??= bundleCli({ ...BUNDLE_OPTIONS, define: { TOKENRELAY_FAILPOINTS: 'true' } });
  return faultable;
}

async function bundleCli(options: BuildOptions): Promise<CliBundle> {
  mkdirSync(join(repoRoot, '.cache'), { recursive: true });
  const extensionDir = mkdtempSync(join(repoRoot, '.cache', 'cli-'));
  process.on('exit', () => rmSync(extensionDir, { recursive: true, force: true }));
  const cliJs = join(extensionDir, 'dist', 'cli.js');
  await build({
    entryPoints: [join(repoRoot, 'src', 'cli', 'main.ts')], outfile: cliJs, ...options,
  });
  // The hosts' bundle: the one-shot host (no window or agent answers) and `tokenrelay agent`.
  await build({ entryPoints: [join(repoRoot, 'src', 'cli', 'hostBundle.ts')], outfile: join(extensionDir, 'dist', 'host.js'), ...options, banner: {} });
  const binDir = join(extensionDir, 'bin');
  mkdirSync(binDir);
  const launcher = join(binDir, 'tokenrelay');
  copyFileSync(join(repoRoot, 'bin', 'tokenrelay'), launcher);
  chmodSync(launcher, 0o755);
  return { extensionDir, cliJs, launcher, binDir };
}

let dockerHelper: Promise<{ js: string; launcher: string }> | undefined;

/** The docker credential helper bundled as shipped, next to the CLI: bin/docker-credential-tokenrelay is a copy of the launcher, as in the VSIX. */
export function dockerHelperBundle(): Promise<{ js: string; launcher: string }> {
  dockerHelper ??= (async () => {
    const b = await cliBundle();
    const js = join(b.extensionDir, 'dist', 'docker-credential-tokenrelay.js');
    await build({
      entryPoints: [join(repoRoot, 'src', 'cli', 'dockerCredentialMain.ts')], outfile: js, ...BUNDLE_OPTIONS,
    });
    const launcher = join(b.binDir, 'docker-credential-tokenrelay');
    copyFileSync(join(repoRoot, 'bin', 'tokenrelay'), launcher);
    chmodSync(launcher, 0o755);
    return { js, launcher };
  })();
  return dockerHelper;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliRun {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** Run through the sh launcher (as a terminal does) instead of `node dist/cli.js`. */
  viaLauncher?: boolean;
  cwd?: string;
}

/** Runs the bundled CLI as a child process; `socket` becomes TOKENRELAY_SOCK unless env overrides it. */
export async function runCli(socket: string | undefined, args: string[], opts: CliRun = {}): Promise<CliResult> {
  const b = await cliBundle();
  // Never the user's own store or configuration: a private, empty one unless the test names its own.
  const isolated = { TOKENRELAY_HOME: join(b.extensionDir, 'home'), TOKENRELAY_CONFIG: join(b.extensionDir, 'config.json') };
  const env: NodeJS.ProcessEnv = { ...process.env, ...isolated, ...(socket ? { TOKENRELAY_SOCK: socket } : {}), ...opts.env };
  if (!socket && !(opts.env && 'TOKENRELAY_SOCK' in opts.env)) delete env.TOKENRELAY_SOCK;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const [cmd, argv] = opts.viaLauncher ? [b.launcher, args] : [process.execPath, [b.cliJs, ...args]];
  return runChild(cmd, argv, { ...opts, env });
}

/** Runs any command asynchronously (a window's server may live in this process and must keep answering). */
export function runChild(cmd: string, argv: string[], opts: Omit<CliRun, 'viaLauncher'> = {}): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** The uid the suite runs as "another user" (setpriv needs no passwd entry for it, so any fresh machine has it). */
export const TEST_USER = { uid: 999, gid: 995 };

/**
 * Copies of `files` another user can read (a 0755 directory, 0644 files), in a new `prefix…`
 * directory removed when the test process exits; returns that directory.
 */
export function readableCopy(prefix: string, files: string[]): string {
  const dir = mkdtempSync(prefix);
  removedAtExit(dir);
  chmodSync(dir, 0o755);
  for (const file of files) {
    copyFileSync(file, join(dir, basename(file)));
    chmodSync(join(dir, basename(file)), 0o644);
  }
  return dir;
}

const atExit: string[] = [];
/** One exit hook for every copy, however many a suite makes. */
function removedAtExit(dir: string): void {
  if (!atExit.length) process.on('exit', () => { for (const d of atExit) rmSync(d, { recursive: true, force: true }); });
  atExit.push(dir);
}

/** The CLI bundle and the hosts' bundle it loads, readable by another user; returns the copy's cli.js. */
export async function readableCli(prefix: string): Promise<string> {
  const { cliJs } = await cliBundle();
  return join(readableCopy(prefix, [cliJs, join(dirname(cliJs), 'host.js')]), 'cli.js');
}

/** setpriv's command line running `node script args` as `user`, with exactly `vars` as its environment. */
export function asUser(user: { uid: number; gid: number }, vars: Record<string, string>, script: string, args: string[]): [string, string[]] {
  return ['setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'env', '-i',
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), process.execPath, script, ...args]];
}

let sharedReadableCli: Promise<string> | undefined;

/**
 * Runs the bundled CLI as `user` with a clean environment (`env -i` plus `vars`), from a copy of
 * the bundle that user can read. Its own socket directories (/tmp/tokenrelay-999, …) are empty,
 * which no test run as root can promise for its own.
 */
export async function runCliAs(user: { uid: number; gid: number }, args: string[], vars: Record<string, string>): Promise<CliResult> {
  sharedReadableCli ??= readableCli('/tmp/trc-');
  const [cmd, argv] = asUser(user, { PATH: process.env.PATH!, ...vars }, await sharedReadableCli, args);
  return runChild(cmd, argv, { cwd: '/', timeoutMs: 30_000 });
}

// ---- a window: the real AccountService + terminal socket ----------------------------------------

export interface CapturedLog extends Logger {
  lines: string[];
}

export function captureLog(prefix = ''): CapturedLog {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => { lines.push(`${prefix}[${level}] ${m}`); };
  return { lines, trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** What a terminal's `tokenrelay sign-in` does in a test window: the browser part, done by the test. */
export interface TestSignIns {
  /** Who signs in at the test IdP. */
  login: string;
  /** When set, the sign-in fails like a user closing the browser. */
  cancel: boolean;
  calls: number;
}

export interface TestWindow {
  /** The window's real AccountService (its registry keeps world.slotsRoot; world.accountSlot() names a slot in it). */
  service: AccountService;
  signIns: TestSignIns;
  server: TerminalServer;
  log: CapturedLog;
  handled: { route: string; ms: number }[];
  close(): Promise<void>;
}

/**
 * A window in this process: the real AccountService over the real AccountRegistry (world.slotsRoot,
 * the world's store, sign-ins by world.signInAccount() or the terminal's sign-in) configured by the
 * real settings parser for the world's IdP, with the terminal socket in front of it.
 */
export async function startWindow(world: World, opts: {
  requestTimeoutMs?: number; gitUsername?: string; socketDir?: string; refreshTimeoutMs?: number;
  docker?: { username: string; registries: string[] };
  /** The tokenrelay.git.hosts setting as VS Code would return it (read on every git request). */
  gitHosts?: () => unknown;
  /** The tokenrelay.mcp.servers setting as VS Code would return it (read on every mcp-proxy start). */
  mcpServers?: () => unknown;
  /** The tokenrelay.kubernetes.clusters setting as VS Code would return it. */
  kubernetesClusters?: () => unknown;
} = {}): Promise<TestWindow> {
  const log = captureLog('window ');
  const { service, close } = await world.openAccountService({
    log, label: 'cli-window', settings: { refreshSkewSeconds: 0 },
    brokerOptions: { proactive: false, refreshTimeoutMs: opts.refreshTimeoutMs ?? 3000, backoff: { baseMs: 100, capMs: 400 } },
  });
  const signIns: TestSignIns = { login: 'alice', cancel: false, calls: 0 };
  service.setSignInHandler(async () => {
    signIns.calls++;
    if (signIns.cancel) throw new TokenRelayError('cancelled', 'Sign-in was cancelled.', 'Run it again and complete it in the browser.');
    const result = await signInWithLoopback(service.oauthClient(), {
      openBrowser: async (url) => { await fetch(await completeAuthorization(url, { login: signIns.login })); },
    });
    await service.signIn(result.tokens, result.account, undefined, result.origin);
  });
  const handled: { route: string; ms: number }[] = [];
  let server: TerminalServer;
  try {
    server = await serveTerminals({
      socketDir: opts.socketDir ?? world.socketDir, service, log,
      gitUsername: opts.gitUsername === undefined ? undefined : () => opts.gitUsername!,
      docker: opts.docker && (() => opts.docker!),
      gitHosts: opts.gitHosts && (() => readGitHosts((key) => (key === 'git.hosts' ? opts.gitHosts!() : undefined))),
      mcpServers: opts.mcpServers && (() => readMcpServers((key) => (key === 'mcp.servers' ? opts.mcpServers!() : undefined))),
      kubernetesClusters: opts.kubernetesClusters && (() => readKubernetesClusters((key) => (key === 'kubernetes.clusters' ? opts.kubernetesClusters!() : undefined))),
      requestTimeoutMs: opts.requestTimeoutMs,
      onHandled: (route, ms) => handled.push({ route, ms }),
    });
  } catch (err) {
    await close();
    throw err;
  }
  return {
    service, signIns, server, log, handled,
    close: async () => {
      await server.close();
      await close();
    },
  };
}

/**
 * Rewrites the default profile of the configuration file at `path` (as `tokenrelay sign-in` wrote
 * it) to what `edit` returns; returns the profile as it was.
 */
export function editDefaultProfile(path: string, edit: (profile: Record<string, unknown>) => Record<string, unknown>): Record<string, unknown> {
  const profile = (JSON.parse(readFileSync(path, 'utf8')) as { profiles: { default: Record<string, unknown> } }).profiles.default;
  writeFileSync(path, JSON.stringify({ profiles: { default: edit(profile) } }));
  return profile;
}

export { median, percentile } from '../support/stats.ts';
export { waitFor } from '../support/wait.ts';
