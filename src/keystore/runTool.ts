// Runs an OS key tool (secret-tool, security, powershell) with no shell, a bounded time and the
// secret only on stdin. The result carries stdout for the caller; nothing here logs or throws it.
import type * as ChildProcess from 'node:child_process';

/** How long one key-tool call may take: a keyring showing an unlock prompt is not waited on forever. */
export const KEY_TOOL_TIMEOUT_MS = 10_000;

export interface ToolRun {
  command: string;
  args: string[];
  /** Written to the tool's stdin, then stdin is closed. */
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export type ToolResult =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { kind: 'timeout'; stderr: string }
  /** The tool could not be started (ENOENT: not installed or not on PATH). */
  | { kind: 'spawn-failed'; errno: string };

export function runTool(run: ToolRun): Promise<ToolResult> {
  return new Promise((resolve) => {
    // Loaded on the first tool run: a key file or a host with K at hand never loads child_process.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { spawn } = require('node:child_process') as typeof ChildProcess;
    const child = spawn(run.command, run.args, { env: run.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], shell: false, windowsHide: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const finish = (result: ToolResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ kind: 'timeout', stderr: Buffer.concat(err).toString('utf8') });
    }, run.timeoutMs ?? KEY_TOOL_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A tool that exits before reading stdin (EPIPE) reports through its exit status instead.
    child.stdin.on('error', () => {});
    child.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'spawn-failed', errno: e.code ?? String(e) }));
    child.on('close', (code, signal) => finish({
      kind: 'exited', code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'),
    }));
    child.stdin.end(run.stdin ?? '');
  });
}

/** The tool's own words for an error message: its stderr, trimmed and bounded (it never holds the secret). */
export function toolWords(stderr: string): string {
  const text = stderr.replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
