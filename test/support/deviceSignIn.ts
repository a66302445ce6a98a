// Drives `tokenrelay sign-in --device --json`: each code the child prints is approved on the test
// IdP's device page as `login`, as a user on another device would.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { approveDeviceCode } from '../idp/login.ts';

export async function approveDeviceSignIn(child: ChildProcess, issuer: string, login: string): Promise<{ code: number | null; events: Record<string, unknown>[] }> {
  const events: Record<string, unknown>[] = [];
  const approvals: Promise<void>[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    const event = JSON.parse(line) as Record<string, unknown>;
    events.push(event);
    if (typeof event.userCode === 'string') approvals.push(approveDeviceCode(issuer, event.userCode, login));
  }
  await Promise.all(approvals);
  const code = child.exitCode ?? await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, events };
}

/**
 * `tokenrelay sign-in --device --json --issuer … --client-id …`, the bundled CLI at `cliJs` run in
 * `env` (its store and configuration), each code approved as `login`; the CLI's exit code.
 */
export async function signInFromTerminal(cliJs: string, env: NodeJS.ProcessEnv, idp: { issuer: string; clientId: string }, login: string, cwd?: string): Promise<number | null> {
  const child = spawn(process.execPath, [cliJs, 'sign-in', '--device', '--json', '--issuer', idp.issuer, '--client-id', idp.clientId],
    { env, cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  return (await approveDeviceSignIn(child, idp.issuer, login)).code;
}
