// Finds a Token Relay window socket and calls a route on it, mapping every failure to an exit code
// and a message that names the fix.
//
// Which window: the one named by TOKENRELAY_SOCK (an integrated terminal) when it is set. Every
// window serves the same shared session, so any live one gives the same answer; hence:
// - Reload story: the socket path changes with every window start, and a terminal keeps the
//   environment it was started with (VS Code also re-applies its cached, persistent environment to
//   restored terminals). When TOKENRELAY_SOCK names a socket nobody listens on any more, the CLI
//   uses another live terminal socket of this user.
// - Plain terminals (tmux, ssh, cron; TOKENRELAY_SOCK unset): the CLI looks for a live terminal
//   socket of this user in every candidate directory (socketPaths.ts), which does not depend on
//   whether this shell has XDG_RUNTIME_DIR.
// A candidate counts only in a directory of this uid without group/other bits, as a socket of
// this uid with mode 0600; directories in the order a window tries them, newest socket first.
import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { IpcRemoteError, IpcUnavailableError, postJson } from '../ipc/jsonClient.ts';
import { isPrivateDirStat, isPrivateSocketStat, socketDirCandidates } from '../ipc/socketPaths.ts';
import { ENV_SOCKET, EXIT, TERMINAL_SOCKET_KIND, exitCodeFor, type RouteTypes } from '../ipc/tokenProtocol.ts';
import { CliError, PROG, profileOfRun } from './common.ts';
import type { DirectRequest } from './direct/directHost.ts';
import { redactor } from '../core/redact.ts';
import { requireWithCodeCache } from './codeCache.ts';

const OPEN_FROM_VSCODE = 'Open this terminal from VS Code (Terminal > New Terminal) in a window where Token Relay is active';
const HOST_BUNDLE = 'host.js';
const DEAD = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK']);
/**
 * A window at its link cap answers 503 `busy` and closes at once, so a request still being written
 * may see EPIPE/ECONNRESET instead; it was not served (a served request is always answered). Room
 * is made within a moment: retry with back-off.
 */
const BUSY_RETRY_MS = [50, 100, 200, 400, 800];
const REFUSED = new Set(['EPIPE', 'ECONNRESET']);

export interface CallOptions {
  timeoutMs?: number;
  /** For the one-shot host (no window or agent); `only`: skip the sockets (e.g. sign-in with --issuer). */
  direct?: Omit<DirectRequest, 'route' | 'body'> & { only?: boolean };
}

/**
 * The socket the last successful call went through (for `status`): `fallback` when TOKENRELAY_SOCK
 * named a dead socket, `found` when TOKENRELAY_SOCK was unset (not a VS Code terminal).
 */
export let usedSocket: { path: string; fallback: boolean; found: boolean } | undefined;

export async function call<R extends keyof RouteTypes>(route: R, body: RouteTypes[R]['request'], options: CallOptions = {}): Promise<RouteTypes[R]['response']> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  redactor.remember(...tokensIn(body)); // a token this CLI was given is masked verbatim in its output
  const profile = (body as { profile?: string }).profile ?? options.direct?.profile ?? profileOfRun();
  if (profile !== undefined) {
    body = { ...body, profile };
    options = { ...options, direct: { ...options.direct, profile } };
  }
  const primary = process.env[ENV_SOCKET];
  const dirs = socketDirCandidates(process.env);
  if (options.direct?.only) return remembered(await answerDirectly<RouteTypes[R]['response']>(route, body, 'Signing in without a window', options.direct));
  if (primary) {
    checkOwner(primary);
    try {
      const value = await post<RouteTypes[R]['response']>(primary, route, body, timeoutMs);
      usedSocket = { path: primary, fallback: false, found: false };
      return value;
    } catch (err) {
      if (!passOn(err, body)) throw translate(err, timeoutMs);
    }
  }
  // Not a VS Code terminal, or the window that started it is gone (closed or reloaded): use another live one.
  for (const candidate of liveCandidates(primary ? [dirname(primary), ...dirs] : dirs, primary)) {
    try {
      const value = await post<RouteTypes[R]['response']>(candidate, route, body, timeoutMs);
      usedSocket = { path: candidate, fallback: Boolean(primary), found: !primary };
      return value;
    } catch (err) {
      if (passOn(err, body)) continue;
      throw translate(err, timeoutMs);
    }
  }
  // No window or agent: this process reads the store itself (src/cli/direct).
  usedSocket = undefined;
  const noWindow = primary
    ? `The VS Code window that started this terminal is gone (nothing listens at ${primary}), no other Token Relay window or agent is running`
    : `No Token Relay window or agent of this user is running (${ENV_SOCKET} is not set: this is not a VS Code terminal, and no live socket is in ${dirs.join(', ')})`;
  return remembered(await answerDirectly<RouteTypes[R]['response']>(route, body, noWindow, options.direct));
}

/**
 * Another host may answer: this one is gone, or does not serve the profile asked for (a window
 * knows its settings' profiles, an agent its own; the configuration file may hold more).
 */
function passOn(err: unknown, body: unknown): boolean {
  if (err instanceof IpcUnavailableError) return DEAD.has(err.reason);
  return err instanceof IpcRemoteError && (err.code as string) === 'unknown-profile' && typeof (body as { profile?: unknown })?.profile === 'string';
}

/** The hosts' module (dist/host.js: the one-shot host, the agent), loaded only when it is needed. */
export function directHost(): typeof import('./hostBundle.ts') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (__filename.endsWith('.ts')) return require(join(__dirname, 'hostBundle.ts')) as typeof import('./hostBundle.ts');
  return requireWithCodeCache(join(__dirname, HOST_BUNDLE)) as typeof import('./hostBundle.ts');
}

/**
 * The one-shot host, in a separate bundle (dist/host.js) so the socket path never loads the core.
 * Its errors become exit codes like a window's; nothing configured outside VS Code is exit 4.
 */
async function answerDirectly<T>(route: string, body: unknown, noWindow: string, direct: CallOptions['direct'] = {}): Promise<T> {
  const host = directHost();
  try {
    return await host.answerDirectly({ ...direct, route, body: body as Record<string, unknown> }) as T;
  } catch (err) {
    if (err instanceof Error && err.name === 'NoDirectConfiguration') throw new CliError(EXIT.noSocket, `${noWindow}, and ${err.message}`);
    if (err instanceof Error && 'code' in err && typeof err.code === 'string' && !(err instanceof CliError)) {
      throw translate(new IpcRemoteError(err.code, err.message, 409), 0);
    }
    throw err;
  }
}

/** Tokens in a request or an answer (a reported one, the current one): later output may quote them. */
function tokensIn(body: unknown): (string | undefined)[] {
  if (typeof body !== 'object' || body === null) return [];
  const { rejected, token, erase, accessToken, password, secret } = body as Record<string, unknown>;
  return [rejected, token, erase, accessToken, password, secret].map((t) => (typeof t === 'string' ? t : undefined));
}

async function post<T>(socketPath: string, route: string, body: unknown, timeoutMs: number): Promise<T> {
  for (const waitMs of BUSY_RETRY_MS) {
    try {
      return remembered(await postJson<T>(socketPath, route, body, timeoutMs));
    } catch (err) {
      const busy = err instanceof IpcRemoteError ? (err.code as string) === 'busy' : err instanceof IpcUnavailableError && REFUSED.has(err.reason);
      if (!busy) throw err;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
  return remembered(await postJson<T>(socketPath, route, body, timeoutMs));
}

function remembered<T>(answer: T): T {
  redactor.remember(...tokensIn(answer));
  return answer;
}

/** A socket another user owns could impersonate the window and collect tokens we send it. */
function checkOwner(path: string): void {
  if (process.platform === 'win32') return;
  let stat: Stats | undefined;
  try {
    stat = statSync(path, { throwIfNoEntry: false });
  } catch {
    return; // unreadable: connecting will say why
  }
  if (!stat) return; // missing: handled as a dead socket
  if (stat.uid !== process.getuid!()) {
    throw new CliError(EXIT.noSocket, `${ENV_SOCKET}=${path} belongs to another user; refusing to use it. ${OPEN_FROM_VSCODE}.`);
  }
}

/**
 * Live-looking terminal sockets in this user's private directories: directory order, then newest
 * first. Lazy: a directory is read only when every socket before it was dead (the first usually answers).
 */
function* liveCandidates(dirs: string[], exclude: string | undefined): Generator<string> {
  if (process.platform === 'win32') return;
  for (const dir of new Set(dirs)) {
    for (const path of socketsIn(dir)) if (path !== exclude) yield path;
  }
}

const SOCKET_NAME = new RegExp(`^${TERMINAL_SOCKET_KIND}-[0-9a-f]+\\.sock$`);

function socketsIn(dir: string): string[] {
  try {
    // throwIfNoEntry: most candidate directories do not exist, and a thrown ENOENT costs more than the lstat.
    const dirStat = lstatSync(dir, { throwIfNoEntry: false });
    if (!dirStat || !isPrivateDirStat(dirStat)) return [];
    return readdirSync(dir)
      .filter((name) => SOCKET_NAME.test(name))
      .map((name) => join(dir, name))
      .flatMap((path) => {
        try {
          const s = lstatSync(path, { throwIfNoEntry: false });
          return s && isPrivateSocketStat(s) ? [{ path, at: s.mtimeMs }] : [];
        } catch {
          return [];
        }
      })
      .sort((a, b) => b.at - a.at)
      .map((c) => c.path);
  } catch {
    return [];
  }
}

export function translate(err: unknown, timeoutMs: number): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof IpcRemoteError) {
    let message = err.message;
    const code: string = err.code;
    if (code === 'not-signed-in' || code === 'needs-sign-in') message = `${message.replace(/\.\s*$/, '')}, or run "${PROG} sign-in".`;
    if (code === 'unknown-route' || code === 'unsupported-version') {
      message += ' The CLI and the extension differ in version: open a new terminal, or reload the window after updating the extension.';
    }
    return new CliError(exitCodeFor(code), message);
  }
  if (err instanceof IpcUnavailableError) {
    if (err.reason === 'timed out') {
      return new CliError(EXIT.error, `The Token Relay window or agent did not answer within ${Math.round(timeoutMs / 1000)} s. Try again; if it keeps happening, see View > Output > Token Relay (an agent: agent.log in the store, or its journal).`);
    }
    if (REFUSED.has(err.reason)) {
      return new CliError(EXIT.error, `The Token Relay window or agent closed the connection before answering (${err.reason}; it may have too many connections open). Try again in a moment.`);
    }
    if (err.reason === 'EACCES' || err.reason === 'EPERM') {
      return new CliError(EXIT.noSocket, `Permission denied on the Token Relay socket ${err.socketPath}. ${OPEN_FROM_VSCODE}.`);
    }
    return new CliError(EXIT.noSocket, `Lost the connection to the Token Relay window or agent (${err.reason}). Try again; if the window was closed, ${OPEN_FROM_VSCODE.charAt(0).toLowerCase()}${OPEN_FROM_VSCODE.slice(1)}.`);
  }
  return new CliError(EXIT.error, `Unexpected error: ${(err as Error)?.message ?? String(err)}. Please report it.`);
}
