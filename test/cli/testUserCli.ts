// The CLI as TEST_USER with a clean environment (as runCliAs does): that user's socket directories
// (/tmp/tokenrelay-999, …) are empty, so no window of another test run on this machine can answer
// in place of the one-shot host. `vars` is the whole environment the CLI gets.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { approveDeviceCode } from '../idp/login.ts';
import { TEST_USER, runChild, type CliResult } from './support.ts';

function asTestUser(cliJs: string, vars: Record<string, string>, args: string[]): [string, string[]] {
  return ['setpriv', [`--reuid=${TEST_USER.uid}`, `--regid=${TEST_USER.gid}`, '--clear-groups', 'env', '-i',
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), process.execPath, cliJs, ...args]];
}

export function runAsTestUser(cliJs: string, vars: Record<string, string>, args: string[], input?: string): Promise<CliResult> {
  const [cmd, argv] = asTestUser(cliJs, vars, args);
  return runChild(cmd, argv, { cwd: '/', input, timeoutMs: 60_000 });
}

/** `tokenrelay sign-in --device --json`, approved at the test IdP's device page as `login`; the exit code. */
export async function deviceSignInAsTestUser(cliJs: string, vars: Record<string, string>, issuer: string, login: string): Promise<number | null> {
  const [cmd, argv] = asTestUser(cliJs, vars, ['sign-in', '--device', '--json']);
  const child = spawn(cmd, argv, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  const approvals: Promise<void>[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    const event = JSON.parse(line) as Record<string, unknown>;
    if (typeof event.userCode === 'string') approvals.push(approveDeviceCode(issuer, event.userCode, login));
  }
  await Promise.all(approvals);
  return child.exitCode ?? new Promise((resolve) => child.once('exit', (c) => resolve(c)));
}
