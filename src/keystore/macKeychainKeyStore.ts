// The OS keyring on macOS: the login keychain through `security -i`. The command line is written to
// security's stdin (interactive mode), so the secret never appears in argv, where any user's `ps`
// could read it. Entries are generic passwords with service "tokenrelay" and account = entry name.
import type { KeyStore } from '../core/keyStore.ts';
import { TokenRelayError } from '../core/errors.ts';
import { runTool, toolWords, type ToolResult } from './runTool.ts';

const SERVICE = 'tokenrelay';
/** security's interactive line buffer (MAX_LINE_LEN in SecurityTool/security.c), its newline included. */
const MAX_LINE = 4096;
/** errSecItemNotFound as security's exit status. */
const NOT_FOUND = 44;
const OPT_IN_FILE = 'or opt in to a key file with TOKENRELAY_KEY_STORE=file (not protected by the OS).';

export type KeychainOp = 'set' | 'get' | 'delete';

/**
 * One argument for security's interactive parser (split_line): inside double quotes a backslash
 * escapes any character, so quotes and backslashes are escaped; a line break cannot be carried.
 */
export function quoteForSecurity(arg: string): string {
  if (/[\r\n\0]/.test(arg)) throw new TokenRelayError('key-store', 'Token Relay cannot pass a value with a line break or NUL to the macOS keychain.', 'This is a bug in Token Relay: report it.');
  return `"${arg.replace(/[\\"]/g, '\\$&')}"`;
}

/** The argv (no secret) and the stdin line (the secret, quoted) for one keychain operation. */
export function securityInvocation(op: KeychainOp, name: string, value?: string): { command: string; args: string[]; stdin: string } {
  const item = ['-s', quoteForSecurity(SERVICE), '-a', quoteForSecurity(name)];
  const words = op === 'set' ? ['add-generic-password', '-U', ...item, '-w', quoteForSecurity(value ?? '')]
    : op === 'get' ? ['find-generic-password', ...item, '-w']
      : ['delete-generic-password', ...item];
  const stdin = `${words.join(' ')}\n`;
  if (Buffer.byteLength(stdin) > MAX_LINE) throw new TokenRelayError('key-store', 'Token Relay\'s key entry is too long for the macOS security tool.', 'This is a bug in Token Relay: report it.');
  return { command: 'security', args: ['-i'], stdin };
}

export interface MacKeychainOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export class MacKeychainKeyStore implements KeyStore {
  readonly kind = 'os-keyring' as const;
  readonly description = 'the OS keyring (macOS login keychain)';

  constructor(private readonly o: MacKeychainOptions = {}) {}

  async get(name: string): Promise<string | undefined> {
    const result = await this.run('get', name);
    if (ok(result)) return result.stdout.replace(/\n$/, ''); // `-w` prints the password and a newline
    if (notFound(result)) return undefined;
    throw classifyKeychainFailure(result, 'read');
  }

  async set(name: string, value: string): Promise<void> {
    const result = await this.run('set', name, value);
    if (!ok(result)) throw classifyKeychainFailure(result, 'write');
  }

  async delete(name: string): Promise<void> {
    const result = await this.run('delete', name);
    if (!ok(result) && !notFound(result)) throw classifyKeychainFailure(result, 'delete');
  }

  private run(op: KeychainOp, name: string, value?: string): Promise<ToolResult> {
    return runTool({ ...securityInvocation(op, name, value), env: this.o.env, timeoutMs: this.o.timeoutMs });
  }
}

function ok(r: ToolResult): r is Extract<ToolResult, { kind: 'exited' }> {
  return r.kind === 'exited' && r.code === 0;
}

function notFound(r: ToolResult): boolean {
  return r.kind === 'exited' && (r.code === NOT_FOUND || /could not be found in the keychain/i.test(r.stderr));
}

export function classifyKeychainFailure(result: ToolResult, what: 'read' | 'write' | 'delete'): TokenRelayError {
  const fail = (problem: string, fix: string) => new TokenRelayError('key-store', `Token Relay cannot ${what} its key in the macOS keychain: ${problem}.`, fix);
  if (result.kind === 'spawn-failed') return fail(`the security tool could not be started (${result.errno})`, `Check /usr/bin/security is on PATH, ${OPT_IN_FILE}`);
  if (result.kind === 'timeout') return fail('security did not answer in time (the keychain may be waiting for a password prompt)', `Unlock your login keychain (security unlock-keychain), ${OPT_IN_FILE}`);
  const words = toolWords(result.stderr);
  // errSecInteractionNotAllowed (-25308): locked and no prompt possible (ssh session, launchd job).
  if (/interaction is not allowed|locked|-25308/i.test(result.stderr)) {
    return fail(`the keychain is locked and cannot prompt here (security: ${words})`, `Unlock your login keychain (security unlock-keychain ~/Library/Keychains/login.keychain-db), ${OPT_IN_FILE}`);
  }
  return fail(`security failed (exit status ${result.code}${words ? `: ${words}` : ''})`, `Check your login keychain in Keychain Access, ${OPT_IN_FILE}`);
}
