// Linux /proc helpers: find live (non-zombie) members of a process group or tree,
// because orphaned extension hosts/pty hosts outlive their parent for a while.
import { readdirSync, readFileSync } from 'node:fs';

interface ProcInfo { pid: number; ppid: number; pgrp: number; state: string }

function readProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // comm may contain spaces/parens: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(name), state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) });
    } catch { /* exited while scanning */ }
  }
  return out;
}

/** Live pids in process group `pgid` or descending from `rootPid` (defaults to pgid). */
export function liveProcesses(pgid: number, rootPid = pgid): number[] {
  const procs = readProcs().filter((p) => p.state !== 'Z');
  const found = new Set(procs.filter((p) => p.pgrp === pgid).map((p) => p.pid));
  const tree = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (tree.has(p.ppid) && !tree.has(p.pid)) { tree.add(p.pid); grew = true; }
    }
  }
  for (const pid of tree) if (procs.some((p) => p.pid === pid)) found.add(pid);
  return [...found];
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try { process.kill(pid, sig); } catch { /* already gone */ }
  }
}

/** SIGTERM the group and its descendants, SIGKILL whatever is left after `graceMs`. */
export async function killTree(pgid: number, graceMs = 5000): Promise<number[]> {
  const targets = liveProcesses(pgid);
  try { process.kill(-pgid, 'SIGTERM'); } catch { /* group empty */ }
  signal(targets, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (liveProcesses(pgid).length === 0 && targets.every((pid) => !isLive(pid))) return [];
    await new Promise((r) => setTimeout(r, 100));
  }
  const left = [...new Set([...liveProcesses(pgid), ...targets.filter(isLive)])];
  try { process.kill(-pgid, 'SIGKILL'); } catch { /* group empty */ }
  signal(left, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  return left;
}

export function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
