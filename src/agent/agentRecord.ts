// One agent per store: `agent.json` in the store root names the running agent (pid, its start
// time, its socket). Starting one checks and writes that record under a short lock, so two starts at
// once (two `tokenrelay agent --start`, or systemd and a script) leave exactly one agent; the other
// learns which one runs. A record whose process is gone (SIGKILL, a crash) is simply replaced.
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { lockfile } from '../core/refreshLock.ts';
import { replaceDurable } from '../core/durableFile.ts';
import { ownStartTime, processAlive } from '../core/processIdentity.ts';

const RECORD = 'agent.json';

export interface AgentRecord {
  pid: number;
  /** The process's start time where the OS tells it: a reused pid is not taken for the agent. */
  startedAt?: string;
  socket: string;
  since: number;
}

/** The running agent of the store at `root`, if its process is alive. */
export function runningAgent(root: string): AgentRecord | undefined {
  const record = readRecord(root);
  return record && processAlive(record.pid, record.startedAt) ? record : undefined;
}

export type AgentClaim = { claimed: AgentRecord; release(): void } | { running: AgentRecord };

/**
 * Becomes the store's agent unless a live one runs: `listen` is called under the lock and returns
 * this agent's socket, which the record names. `release` removes the record if it is still ours.
 */
export async function claimAgent(root: string, listen: () => Promise<string>): Promise<AgentClaim> {
  const unlock = await lockfile().lock(join(root, 'agent'), {
    realpath: false, stale: 10_000, retries: { retries: 100, minTimeout: 20, maxTimeout: 200 },
    lockfilePath: join(root, 'agent.lock'),
  });
  try {
    const running = runningAgent(root);
    if (running && running.pid !== process.pid) return { running };
    const record: AgentRecord = { pid: process.pid, startedAt: ownStartTime(), socket: await listen(), since: Date.now() };
    replaceDurable(root, root, RECORD, `${JSON.stringify(record)}\n`);
    return { claimed: record, release: () => releaseRecord(root) };
  } finally {
    await unlock().catch(() => undefined);
  }
}

function releaseRecord(root: string): void {
  if (readRecord(root)?.pid !== process.pid) return; // another agent's by now: never remove it
  try { unlinkSync(join(root, RECORD)); } catch { /* gone already */ }
}

function readRecord(root: string): AgentRecord | undefined {
  try {
    const value = JSON.parse(readFileSync(join(root, RECORD), 'utf8')) as Partial<AgentRecord>;
    return typeof value.pid === 'number' && typeof value.socket === 'string' ? value as AgentRecord : undefined;
  } catch {
    return undefined;
  }
}
