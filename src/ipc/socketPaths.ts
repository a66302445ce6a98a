// Where sockets may live, by rule (the CLI reads this too, so it stays free of crypto and of the
// core; the disk is read only to lstat the login runtime directory). The kernel copies a unix socket
// path into sun_path (108 bytes on Linux, 104 on macOS, NUL included) and libuv silently truncates a
// longer one, which would bind elsewhere: every path is measured in bytes (multi-byte names reach
// the limit sooner) before use.
import { lstatSync, type Stats } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** Usable bytes of sun_path (its size minus the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

/** `term-` or `peer-`, 24 hex digits, `.sock`. */
export const SOCKET_NAME_BYTES = 'term-'.length + 24 + '.sock'.length;

/** Whether a socket named by newSocketPath fits under `dir` without truncation. */
export function socketDirFits(dir: string): boolean {
  return Buffer.byteLength(join(dir, 'x'.repeat(SOCKET_NAME_BYTES))) <= MAX_SOCKET_PATH_BYTES;
}

/** This user's login runtime directory as systemd-logind makes it; XDG_RUNTIME_DIR names it in a login session. */
export function runUserDir(): string {
  return join('/run/user', String(uid()));
}

/**
 * Every directory a process of this user may have put its sockets in, in the order a window tries
 * them: `$XDG_RUNTIME_DIR/tokenrelay` (when set), `/run/user/<uid>/tokenrelay`,
 * `$TMPDIR/tokenrelay-<uid>`, `/tmp/tokenrelay-<uid>`, `~/.cache/tokenrelay/sock`. The login runtime
 * directory is always in: a shell without XDG_RUNTIME_DIR (cron, ssh) must find a window whose
 * login set it, and the other way round. What is found in one counts only if isPrivateDirStat.
 */
export function socketDirCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...new Set([...runtimeDir(env), join(runUserDir(), 'tokenrelay'), join(tmpDir(env), `tokenrelay-${uid()}`),
    join('/tmp', `tokenrelay-${uid()}`), join(env.HOME || homedir(), '.cache', 'tokenrelay', 'sock')])];
}

/**
 * The candidates a window may create, in order: all of them, except `/run/user/<uid>/tokenrelay`
 * while `/run/user/<uid>` is not a private directory of ours (only a login makes it; we never do).
 */
export function windowSocketDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const runUser = join(runUserDir(), 'tokenrelay');
  const named = runtimeDir(env).includes(runUser);
  return socketDirCandidates(env).filter((dir) => dir !== runUser || named || privateDirExists(runUserDir()));
}

/** The window's preferred socket directory: the first of windowSocketDirs. */
export function defaultSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  return windowSocketDirs(env)[0];
}

/** Where a window goes when the preferred directory is too long or not ours (planted by another user, a symlink). */
export function fallbackSocketDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  return windowSocketDirs(env);
}

/** The rule for a socket directory found on disk (lstat): a real directory of this user, no group/other bits. */
export function isPrivateDirStat(stat: Stats): boolean {
  return stat.isDirectory() && stat.uid === uid() && (stat.mode & 0o077) === 0;
}

/** The rule for a socket found on disk (lstat): a socket of this user, no group/other bits. */
export function isPrivateSocketStat(stat: Stats): boolean {
  return stat.isSocket() && stat.uid === uid() && (stat.mode & 0o077) === 0;
}

/**
 * Whether a socket named by someone else (a sibling's registration) may be connected to: it lies
 * directly in one of `dirs` (socketDirCandidates, plus a process's own), that directory passes
 * isPrivateDirStat now and the socket passes isPrivateSocketStat.
 */
export function isTrustedSocket(socket: string, dirs: string[]): boolean {
  const dir = dirname(resolve(socket));
  if (!dirs.some((d) => resolve(d) === dir)) return false;
  try {
    return isPrivateDirStat(lstatSync(dir)) && isPrivateSocketStat(lstatSync(socket));
  } catch {
    return false;
  }
}

function runtimeDir(env: NodeJS.ProcessEnv): string[] {
  return env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'tokenrelay')] : [];
}

function privateDirExists(dir: string): boolean {
  try {
    return isPrivateDirStat(lstatSync(dir));
  } catch {
    return false;
  }
}

function tmpDir(env: NodeJS.ProcessEnv): string {
  const dir = env.TMPDIR || env.TMP || env.TEMP || '/tmp';
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

function uid(): number {
  return process.getuid?.() ?? userInfo().uid;
}
