// `tokenrelay agent`'s work, a separate bundle (dist/agent.js) that dist/cli.js loads only for
// that command, so `tokenrelay token` never parses it. Runs the agent in this process
// (--foreground, the default: under systemd, launchd, or a terminal), detaches one (--start), or
// prints the service definitions.
import type * as ChildProcess from 'node:child_process';
import { closeSync, fchmodSync, openSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openStoreLayout } from '../app/storeRoot.ts';
import { redactingLogger } from '../core/redact.ts';
import { stderrLogger } from '../cli/direct/stderrLogger.ts';
import { onShutdownSignals } from '../cli/direct/heldSignals.ts';
import { runningAgent, type AgentRecord } from './agentRecord.ts';
import { startAgent } from './agentHost.ts';
import { launchdPlist, systemdUnit, type UnitPaths } from './units.ts';

export { NoDirectConfiguration } from '../app/profileHost.ts';
export { launchdPlist, systemdUnit };

export interface AgentRun {
  profile?: string;
  /** undefined: --stay. */
  idleTimeoutMs?: number;
}

/** What a started agent tells the `--start` that forked it, over the IPC channel. */
type StartMessage = { event: 'ready'; record: AgentRecord } | { event: 'running'; record: AgentRecord };

const LOG_FILE = 'agent.log';
const LOG_KEEP_BYTES = 1024 * 1024;
const START_TIMEOUT_MS = 30_000;

/** Serves until idle or a signal; resolves with the exit status (0 also when another agent already runs). */
export async function runForeground(run: AgentRun, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = redactingLogger(stderrLogger(env, { level: 'info', timestamps: true }));
  const started = await startAgent({ env, profile: run.profile, idleTimeoutMs: run.idleTimeoutMs, log });
  if ('running' in started) {
    log.info(`A Token Relay agent already runs for this store (pid ${started.running.pid}, socket ${started.running.socket}); this one exits`);
    await tell({ event: 'running', record: started.running });
    return 0;
  }
  const { agent } = started;
  // The first signal stops it cleanly (a refresh in flight is answered and saved first); a second exits at once.
  const off = onShutdownSignals((signal) => void agent.stop(signal));
  await tell({ event: 'ready', record: agent.record });
  await agent.stopped;
  off();
  return 0;
}

export interface StartOutcome {
  started: boolean;
  record: AgentRecord;
  logFile: string;
}

/**
 * Starts a detached agent (`cliScript agent --foreground …`) and returns once its socket answers,
 * or names the one already running. Its output goes to a 0600 log file in the store; nothing
 * secret is in its arguments or environment (it reads the store and the keyring itself).
 */
export async function startDetached(cliScript: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<StartOutcome> {
  const layout = openStoreLayout(env);
  const logFile = join(layout.root, LOG_FILE);
  const running = runningAgent(layout.root);
  if (running) return { started: false, record: running, logFile };
  const from = openLog(logFile);
  const fd = openSync(logFile, 'a', 0o600);
  let child;
  try {
    fchmodSync(fd, 0o600);
    const childEnv = { ...env };
    delete childEnv.TOKENRELAY_SOCK; // the agent serves every terminal, not the window that started this one
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { fork } = require('node:child_process') as typeof ChildProcess; // dist/host.js loads it only to start an agent
    child = fork(cliScript, ['agent', '--foreground', ...args], { detached: true, stdio: ['ignore', fd, fd, 'ipc'], env: childEnv });
  } finally {
    closeSync(fd);
  }
  const outcome = await new Promise<StartMessage | { exit: number | null }>((resolve) => {
    const timer = setTimeout(() => resolve({ exit: null }), START_TIMEOUT_MS);
    child.once('message', (m: StartMessage) => { clearTimeout(timer); resolve(m); });
    child.once('exit', (code) => { clearTimeout(timer); resolve({ exit: code }); });
  });
  if (child.connected) child.disconnect();
  child.unref();
  if ('exit' in outcome) {
    // Its own last words name the problem and the fix; the log keeps the rest.
    const said = lastLines(logFile, from);
    const why = said ? `${said} (log: ${logFile})` : `The Token Relay agent did not start (${outcome.exit === null ? 'no answer within 30 s' : `exit status ${outcome.exit}`}); see ${logFile}.`;
    throw new AgentStartError(why, logFile, outcome.exit === 4 ? 4 : 1);
  }
  return { started: outcome.event === 'ready', record: outcome.record, logFile };
}

export class AgentStartError extends Error {
  override name = 'AgentStartError';
  /** The CLI's exit status: the agent's own when it named "nothing configured" (4), else 1. */
  constructor(message: string, readonly logFile: string, readonly exitCode: number) { super(message); }
}

/** This installation's paths for the service definitions. */
export function unitPaths(cliScript: string, home = process.env.HOME): UnitPaths {
  return {
    node: process.execPath, cli: cliScript, electron: Boolean(process.versions.electron),
    logFile: home ? join(home, 'Library', 'Logs', 'tokenrelay-agent.log') : undefined,
  };
}

/** Keeps the log bounded: a log past 1 MiB is moved to agent.log.1 first. Returns where this start's lines begin. */
function openLog(path: string): number {
  const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  if (size <= LOG_KEEP_BYTES) return size;
  renameSync(path, `${path}.1`);
  return 0;
}

function lastLines(path: string, from: number): string {
  try {
    return readFileSync(path, 'utf8').slice(from).trim().split('\n').slice(-3).map((l) => l.replace(/^(\S+ )?tokenrelay: (\w+: )?/, '')).join(' ');
  } catch {
    return '';
  }
}

function tell(message: StartMessage): Promise<void> {
  if (!process.send || !process.connected) return Promise.resolve();
  return new Promise((resolve) => {
    process.send!(message, undefined, {}, () => {
      process.disconnect?.(); // the starter goes on alone; this agent must not hang on its channel
      resolve();
    });
  });
}
