// Whether the process that wrote a claim is still that process. A pid alone can be reused after
// its owner died (and a claim naming a reused pid would be followed for the whole lock-wait bound,
// every time); where the OS tells a process's start time (Linux: /proc/<pid>/stat, field 22), the
// claim records it and a pid that started at another time counts as dead.
import { readFileSync } from 'node:fs';

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // fields after "(comm)": state is 3, starttime 22
  } catch {
    return undefined;
  }
}

let own: string | undefined | null = null;

/** This process's start time, as other processes will read it; undefined where the OS does not tell. */
export function ownStartTime(): string | undefined {
  if (own === null) own = startTimeOf(process.pid);
  return own;
}

export function processAlive(pid: number, startedAt?: string): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (startedAt === undefined) return true;
  const now = startTimeOf(pid);
  return now === undefined || now === startedAt;
}
