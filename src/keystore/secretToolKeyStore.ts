// The OS keyring on Linux: the Secret Service (gnome-keyring, KWallet, KeePassXC) through the
// distribution's `secret-tool` command rather than a JavaScript D-Bus client. Why: no native module
// and no new npm dependency to vet and bundle; the secret crosses only stdin (store) and stdout
// (lookup), never argv or the environment; the tool is the distribution's own, maintained with
// libsecret, so collection handling, prompts and unlocking behave as everywhere else on the desktop.
// The cost is a process start per call (a few ms); the keyring caches K in memory, so that happens
// at start-up and when K or the mark is written, not per token.
//
// Entries carry two attributes: service=tokenrelay and name=<entry name>. What secret-tool prints
// when it fails was observed (libsecret-tools 0.20.5 with gnome-keyring 42) and is classified below.
import type { KeyStore } from '../core/keyStore.ts';
import { TokenRelayError } from '../core/errors.ts';
import { runTool, toolWords, type ToolResult } from './runTool.ts';
import { withSessionBus } from './sessionBus.ts';

export const SECRET_SERVICE_ATTRIBUTE = 'tokenrelay';
const OPT_IN_FILE = 'or opt in to a key file with TOKENRELAY_KEY_STORE=file (not protected by the OS).';

export interface SecretToolOptions {
  /** The environment secret-tool runs in (DBUS_SESSION_BUS_ADDRESS, PATH); default process.env. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** The command; default `secret-tool` found on PATH. */
  command?: string;
  /** Tests: where the per-user runtime directories are (default /run/user). */
  runRoot?: string;
}

export type SecretToolOp = 'store' | 'lookup' | 'clear' | 'search';

/** secret-tool's argv for an operation: attributes and the label only, never the secret. */
export function secretToolArgs(op: SecretToolOp, name: string): string[] {
  const attributes = ['service', SECRET_SERVICE_ATTRIBUTE, 'name', name];
  if (op === 'store') return ['store', `--label=Token Relay: ${name}`, ...attributes];
  return [op, ...attributes];
}

export class SecretToolKeyStore implements KeyStore {
  readonly kind = 'os-keyring' as const;
  readonly description = 'the OS keyring (Secret Service, via secret-tool)';

  constructor(private readonly o: SecretToolOptions = {}) {}

  async get(name: string): Promise<string | undefined> {
    const result = await this.run('lookup', name);
    // The value exactly as stored: secret-tool adds no newline when stdout is not a terminal.
    if (result.kind === 'exited' && result.code === 0) return result.stdout;
    // Exit 1 and silence is "no such item" — but also what a locked item looks like (the unlock
    // prompt failed or was dismissed); a search tells the two apart.
    if (isSilentMiss(result)) return await this.lockedItem(name) ? failLocked('read') : undefined;
    throw classifySecretToolFailure(result, 'read', this.env());
  }

  async set(name: string, value: string): Promise<void> {
    const result = await this.run('store', name, value);
    if (result.kind === 'exited' && result.code === 0) return;
    throw classifySecretToolFailure(result, 'write', this.env());
  }

  async delete(name: string): Promise<void> {
    const result = await this.run('clear', name);
    if (result.kind === 'exited' && result.code === 0) return;
    // Exit 1 and silence: nothing matched (already gone), or the item is locked.
    if (isSilentMiss(result)) return await this.lockedItem(name) ? failLocked('delete') : undefined;
    throw classifySecretToolFailure(result, 'delete', this.env());
  }

  private env(): NodeJS.ProcessEnv {
    return withSessionBus(this.o.env ?? process.env, this.o.runRoot);
  }

  private run(op: SecretToolOp, name: string, stdin?: string): Promise<ToolResult> {
    return runTool({ command: this.o.command ?? 'secret-tool', args: secretToolArgs(op, name), stdin, env: this.env(), timeoutMs: this.o.timeoutMs });
  }

  /** True when an item with these attributes exists but its collection is locked. */
  private async lockedItem(name: string): Promise<boolean> {
    const result = await this.run('search', name);
    if (result.kind !== 'exited') throw classifySecretToolFailure(result, 'read', this.env());
    return /locked/i.test(result.stderr);
  }
}

function isSilentMiss(result: ToolResult): boolean {
  return result.kind === 'exited' && result.code === 1 && result.stdout === '' && result.stderr.trim() === '';
}

function failLocked(what: 'read' | 'write' | 'delete'): never {
  throw lockedError(what, 'the keyring holding it is locked');
}

function lockedError(what: string, detail: string): TokenRelayError {
  return new TokenRelayError('key-store', `Token Relay cannot ${what} its key in the OS keyring: ${detail}.`,
    `Unlock your login keyring (log in to the desktop, or run gnome-keyring-daemon --unlock and type the password), ${OPT_IN_FILE}`);
}

type Op = 'read' | 'write' | 'delete';

/** A failed secret-tool run as a named problem and its fix (the tool's own words included). */
export function classifySecretToolFailure(result: ToolResult, what: Op, env: NodeJS.ProcessEnv): TokenRelayError {
  const fail = (problem: string, fix: string) => new TokenRelayError('key-store', `Token Relay cannot ${what} its key in the OS keyring: ${problem}.`, fix);
  if (result.kind === 'spawn-failed') {
    return result.errno === 'ENOENT'
      ? fail('secret-tool is not installed (or not on PATH)', `Install libsecret-tools (apt install libsecret-tools), ${OPT_IN_FILE}`)
      : fail(`secret-tool could not be started (${result.errno})`, `Check that secret-tool is executable, ${OPT_IN_FILE}`);
  }
  if (result.kind === 'timeout') {
    return fail('secret-tool did not answer in time (the keyring may be waiting for an unlock prompt nobody can see)',
      `Unlock your login keyring (log in to the desktop), check that the Secret Service answers (secret-tool search service tokenrelay), ${OPT_IN_FILE}`);
  }
  const stderr = result.stderr;
  const words = toolWords(stderr);
  // "Cannot autolaunch D-Bus without X11 $DISPLAY" (no address at all), "Could not connect: No such
  // file or directory" (a stale address), "Address element … does not contain a colon" (a bad one).
  if (/autolaunch D-Bus|Could not connect|Address element|Failed to connect to socket|DBUS_SESSION_BUS_ADDRESS/i.test(stderr)) {
    const unset = env.DBUS_SESSION_BUS_ADDRESS ? `DBUS_SESSION_BUS_ADDRESS=${env.DBUS_SESSION_BUS_ADDRESS} does not work` : 'DBUS_SESSION_BUS_ADDRESS is not set';
    return fail(`there is no D-Bus session bus (${unset}; secret-tool: ${words})`,
      `Run Token Relay inside a desktop session (or wrap it: dbus-run-session -- <command>, with a keyring daemon started in it), ${OPT_IN_FILE}`);
  }
  // "The name org.freedesktop.secrets was not provided by any .service files": a bus, no keyring.
  if (/org\.freedesktop\.secrets|ServiceUnknown|not provided by any \.service/i.test(stderr)) {
    return fail(`no Secret Service provider runs on the D-Bus session (secret-tool: ${words})`,
      `Install and start a keyring daemon (apt install gnome-keyring; gnome-keyring-daemon --start --components=secrets), ${OPT_IN_FILE}`);
  }
  // "Cannot create an item in a locked collection", "Cannot get secret of a locked object".
  if (/locked/i.test(stderr)) return lockedError(what, `the keyring is locked (secret-tool: ${words})`);
  // "Object does not exist at path “/org/freedesktop/secrets/collection/login”": no login keyring
  // exists and the prompt to create one could not be shown.
  if (/collection\/login|does not exist at path|prompt|dismissed/i.test(stderr)) {
    return fail(`the keyring has no usable login collection, and the prompt to create or unlock it could not be shown (secret-tool: ${words})`,
      `Create and unlock a login keyring (log in to the desktop, or echo -n <password> | gnome-keyring-daemon --unlock), ${OPT_IN_FILE}`);
  }
  const status = result.signal ? `signal ${result.signal}` : `exit status ${result.code}`;
  return fail(`secret-tool failed (${status}${words ? `: ${words}` : ''})`, `Check that your keyring works (secret-tool search service tokenrelay), ${OPT_IN_FILE}`);
}
