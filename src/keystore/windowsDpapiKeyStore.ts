// The OS keyring on Windows: DPAPI with the CurrentUser scope (the user's logon secret protects the
// blob; no other user, and no copy on another machine, can open it). Windows PowerShell does the
// DPAPI call; its script, which carries the secret base64-encoded, goes on stdin (`-Command -`),
// never in argv. Node keeps the protected blob in a file under the store root's `keys` directory,
// with the same file rules as the key file store (written durably, 0600 where that means anything).
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyStore } from '../core/keyStore.ts';
import { TokenRelayError } from '../core/errors.ts';
import { ensurePrivateDir } from '../core/slotDir.ts';
import { fsyncDir, replaceDurable } from '../core/durableFile.ts';
import { runTool, type ToolResult } from './runTool.ts';

const OPT_IN_FILE = 'or opt in to a key file with TOKENRELAY_KEY_STORE=file (not protected by the OS).';
/** Our own error lines: PowerShell's stderr is never quoted raw, since it may echo the script (and the secret). */
const MARK = 'tokenrelay-dpapi: ';

export const POWERSHELL_ARGS = ['-NoProfile', '-NonInteractive', '-Command', '-'];

/** The one-line script that protects (or unprotects) base64 input and prints the result in base64. */
export function dpapiScript(op: 'protect' | 'unprotect', inputBase64: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(inputBase64)) throw new TypeError('dpapiScript takes base64');
  const call = op === 'protect' ? 'Protect' : 'Unprotect';
  return "$ErrorActionPreference='Stop'; try { Add-Type -AssemblyName System.Security; "
    + `$d=[Convert]::FromBase64String('${inputBase64}'); `
    + `$r=[Security.Cryptography.ProtectedData]::${call}($d,[Text.Encoding]::UTF8.GetBytes('tokenrelay'),[Security.Cryptography.DataProtectionScope]::CurrentUser); `
    + '[Console]::Out.Write([Convert]::ToBase64String($r)) } '
    + `catch { [Console]::Error.WriteLine('${MARK}' + $_.Exception.Message); exit 1 }\n`;
}

/** The process for one DPAPI call: argv without the secret, the secret (base64) on stdin. */
export function dpapiInvocation(op: 'protect' | 'unprotect', input: Buffer): { command: string; args: string[]; stdin: string } {
  return { command: 'powershell.exe', args: [...POWERSHELL_ARGS], stdin: dpapiScript(op, input.toString('base64')) };
}

export function dpapiFileName(name: string): string {
  return `${Buffer.from(name, 'utf8').toString('base64url')}.dpapi`;
}

export interface WindowsDpapiOptions {
  /** The store root's `keys` directory. */
  dir: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export class WindowsDpapiKeyStore implements KeyStore {
  readonly kind = 'os-keyring' as const;
  readonly description: string;

  constructor(private readonly o: WindowsDpapiOptions) {
    this.description = `the OS keyring (Windows DPAPI, blobs in ${o.dir})`;
  }

  async get(name: string): Promise<string | undefined> {
    let blob: string;
    try {
      blob = readFileSync(join(this.o.dir, dpapiFileName(name)), 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fileFailure(err, this.o.dir, 'read');
    }
    return (await this.call('unprotect', Buffer.from(blob, 'base64'), 'read')).toString('utf8');
  }

  async set(name: string, value: string): Promise<void> {
    const blob = await this.call('protect', Buffer.from(value, 'utf8'), 'write');
    try {
      ensurePrivateDir(this.o.dir, 'key directory');
      replaceDurable(this.o.dir, this.o.dir, dpapiFileName(name), blob.toString('base64'));
    } catch (err) {
      throw fileFailure(err, this.o.dir, 'write');
    }
  }

  async delete(name: string): Promise<void> {
    try {
      unlinkSync(join(this.o.dir, dpapiFileName(name)));
      fsyncDir(this.o.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileFailure(err, this.o.dir, 'delete');
    }
  }

  private async call(op: 'protect' | 'unprotect', input: Buffer, what: string): Promise<Buffer> {
    const result = await runTool({ ...dpapiInvocation(op, input), env: this.o.env, timeoutMs: this.o.timeoutMs });
    const out = result.kind === 'exited' && result.code === 0 ? result.stdout.trim() : undefined;
    if (out !== undefined && /^[A-Za-z0-9+/]+={0,2}$/.test(out)) return Buffer.from(out, 'base64');
    throw classifyDpapiFailure(result, what);
  }
}

export function classifyDpapiFailure(result: ToolResult, what: string): TokenRelayError {
  const fail = (problem: string, fix: string) => new TokenRelayError('key-store', `Token Relay cannot ${what} its key with Windows DPAPI: ${problem}.`, fix);
  if (result.kind === 'spawn-failed') return fail(`powershell.exe could not be started (${result.errno})`, `Make sure Windows PowerShell is installed and on PATH, ${OPT_IN_FILE}`);
  if (result.kind === 'timeout') return fail('PowerShell did not answer in time', `Try again; if it persists, ${OPT_IN_FILE}`);
  const ours = result.stderr.split(/\r?\n/).filter((l) => l.startsWith(MARK)).map((l) => l.slice(MARK.length).trim()).join(' ');
  const why = ours || (result.code === 0 ? 'PowerShell printed no result' : `exit status ${result.code}`);
  return fail(`${why.slice(0, 300)}`, `A blob protected under another Windows user or machine cannot be opened: sign in again; ${OPT_IN_FILE}`);
}

function fileFailure(err: unknown, dir: string, what: string): TokenRelayError {
  if (err instanceof TokenRelayError) return new TokenRelayError('key-store', err.message, undefined);
  return new TokenRelayError('key-store', `Token Relay cannot ${what} its protected key in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}).`,
    'Make the key directory writable by your user, or free disk space.');
}
