// The CLI as TEST_USER with a clean environment (as runCliAs does): that user's socket directories
// (/tmp/tokenrelay-999, …) are empty, so no window of another test run on this machine can answer
// in place of the one-shot host. `vars` is the whole environment the CLI gets.
import { spawn } from 'node:child_process';
import { approveDeviceSignIn } from '../support/deviceSignIn.ts';
import { TEST_USER, asUser, runChild, type CliResult } from './support.ts';

export function runAsTestUser(cliJs: string, vars: Record<string, string>, args: string[], input?: string): Promise<CliResult> {
  const [cmd, argv] = asUser(TEST_USER, vars, cliJs, args);
  return runChild(cmd, argv, { cwd: '/', input, timeoutMs: 60_000 });
}

/** `tokenrelay sign-in --device --json`, approved at the test IdP's device page as `login`; the exit code. */
export async function deviceSignInAsTestUser(cliJs: string, vars: Record<string, string>, issuer: string, login: string): Promise<number | null> {
  const [cmd, argv] = asUser(TEST_USER, vars, cliJs, ['sign-in', '--device', '--json']);
  return (await approveDeviceSignIn(spawn(cmd, argv, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] }), issuer, login)).code;
}
