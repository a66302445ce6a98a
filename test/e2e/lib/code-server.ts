// Starts an isolated code-server (fresh user-data + extensions dirs) and tears it down completely.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureCodeServerRuntime } from '../../../scripts/setup-code-server.mjs';
import { killTree, liveProcesses } from './processes.ts';
import { target } from './target.ts';
import { freePort } from '../../support/freePort.ts';

const execFileP = promisify(execFile);

export interface StartOptions {
  vsixPaths: string[];
  settings?: Record<string, unknown>;
  /** Folder to open; a fresh temp folder when omitted. Never deleted by stop(). */
  workspace?: string;
  /** Extra environment for code-server, and so for extension hosts and terminals. */
  env?: Record<string, string>;
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Address to bind; 127.0.0.1 when omitted. */
  host?: string;
  /** Prefix of the temp root (user data, extensions, log). */
  tempPrefix?: string;
  /**
   * Which code-server: a version from scripts/setup-code-server.mjs (installed on first use), or an
   * entry script with the Node binary to run it. Default: TOKENRELAY_CODE_SERVER, else 4.100.3.
   */
  codeServer?: string | { entry: string; node: string };
}

export interface CodeServer {
  url: string;
  port: number;
  /** Process id of code-server = its process group id. */
  pid: number;
  userDataDir: string;
  extensionsDir: string;
  workspace: string;
  /** The entry script and the Node binary this code-server runs with. */
  runtime: { entry: string; node: string };
  /** code-server stdout+stderr; lives in the temp dir, so copy it before stop() if needed. */
  logFile: string;
  /** Kills the whole process group (SIGTERM, then SIGKILL) and removes the temp dirs. */
  stop(): Promise<void>;
}

export const DEFAULT_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'update.mode': 'none',
  'terminal.integrated.defaultProfile.linux': 'bash',
  // DOM renderer: terminal text becomes readable from the page (canvas otherwise).
  'terminal.integrated.gpuAcceleration': 'off',
  'workbench.tips.enabled': false,
  'chat.commandCenter.enabled': false,
  // VS Code 1.139 opens the Chat view in the secondary side bar by default: the terminal gets so
  // narrow that typed commands wrap. Unknown (and harmless) to 1.100.
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

export { freePort };

// Safety net: a crashed test must not leave servers or temp dirs behind (pgid -> temp root).
const running = new Map<number, string>();
process.on('exit', () => {
  for (const [pgid, root] of running) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(root, { recursive: true, force: true });
  }
});

// Drop variables that would leak the caller's context into code-server: VSCODE_IPC_HOOK_CLI and
// friends (when run from a VS Code terminal) redirect the CLI to that other instance.
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('VSCODE_') || key === 'NODE_TEST_CONTEXT' || key === 'NODE_OPTIONS') delete env[key];
  }
  return { ...env, ...extra };
}

async function installExtensions(runtime: { entry: string; node: string }, dirs: { data: string; ext: string }, vsixPaths: string[]) {
  for (const vsix of vsixPaths) {
    const { stdout, stderr } = await execFileP(runtime.node, [runtime.entry,
      '--user-data-dir', dirs.data, '--extensions-dir', dirs.ext, '--install-extension', vsix],
    { timeout: 120_000, env: cleanEnv() }).catch((err) => err as { stdout: string; stderr: string });
    // Exit code is 0 even on failure; the message is the only reliable signal.
    if (!/successfully installed/i.test(`${stdout}${stderr}`)) {
      throw new Error(`installing ${vsix} failed:\n${stdout}\n${stderr}`);
    }
  }
}

async function waitForHealth(url: string, child: { exitCode: number | null }, logFile: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
  throw new Error(`code-server did not become healthy (exit ${child.exitCode}); log tail:\n${tail}`);
}

export async function startCodeServer(opts: StartOptions): Promise<CodeServer> {
  const runtime = typeof opts.codeServer === 'object'
    ? opts.codeServer
    : await ensureCodeServerRuntime(opts.codeServer ?? target.codeServer);
  const root = mkdtempSync(join(tmpdir(), opts.tempPrefix ?? 'tokenrelay-e2e-'));
  const dirs = { data: join(root, 'data'), ext: join(root, 'ext') };
  const workspace = opts.workspace ?? join(root, 'workspace');
  // --install-extension silently fails when the extensions dir is missing.
  for (const d of [dirs.ext, join(dirs.data, 'User'), workspace]) mkdirSync(d, { recursive: true });
  writeFileSync(join(dirs.data, 'User', 'settings.json'),
    JSON.stringify({ ...DEFAULT_SETTINGS, ...opts.settings }, null, 2));

  const cleanupDirs = () => rmSync(root, { recursive: true, force: true });
  try {
    await installExtensions(runtime, dirs, opts.vsixPaths);
  } catch (err) {
    cleanupDirs();
    throw err;
  }

  const port = opts.port ?? await freePort();
  const host = opts.host ?? '127.0.0.1';
  const config = join(root, 'config.yaml');
  // Without --config, code-server writes ~/.config/code-server/config.yaml with a password.
  writeFileSync(config, `bind-addr: ${host}:${port}\nauth: none\ncert: false\n`);
  const logFile = join(root, 'code-server.log');
  const logFd = openSync(logFile, 'a');
  const child = spawn(runtime.node, [runtime.entry, '--config', config, '--auth', 'none',
    '--bind-addr', `${host}:${port}`, '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--user-data-dir', dirs.data, '--extensions-dir', dirs.ext, workspace], {
    detached: true, // own process group: one kill reaches extension hosts, pty host, watcher
    stdio: ['ignore', logFd, logFd],
    // The store of record is per user, outside VS Code: each test server gets its own, beside its user data.
    // The CLI's configuration file too (the extension copies its profiles there), never the real ~/.config.
    env: cleanEnv({ TOKENRELAY_HOME: storeHomeOf(dirs.data), TOKENRELAY_CONFIG: join(storeHomeOf(dirs.data), 'config.json'), ...opts.env }),
  });
  closeSync(logFd);
  const pid = child.pid!;
  running.set(pid, root);
  child.unref(); // the test process may exit without waiting on it; stop() or the exit hook kills it

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await killTree(pid);
    running.delete(pid);
    cleanupDirs();
  };

  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  try {
    await waitForHealth(url, child, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, pid, userDataDir: dirs.data, extensionsDir: dirs.ext, workspace, runtime: { entry: runtime.entry, node: runtime.node }, logFile, stop };
}

export { liveProcesses };

/** Where a test code-server's Token Relay keeps its store of record (TOKENRELAY_HOME). */
export function storeHomeOf(userDataDir: string): string {
  return join(userDataDir, 'tokenrelay-home');
}
