// Where sockets may live, by rule, without touching the disk (the CLI reads this too, so it stays
// free of crypto and of the core). The kernel copies a unix socket path into sun_path (108 bytes on
// Linux, 104 on macOS, NUL included) and libuv silently truncates a longer one, which would bind
// elsewhere: every path is measured in bytes (multi-byte names reach the limit sooner) before use.
import type { Stats } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

/** Usable bytes of sun_path (its size minus the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

/** `term-` or `peer-`, 24 hex digits, `.sock`. */
export const SOCKET_NAME_BYTES = 'term-'.length + 24 + '.sock'.length;

/** Whether a socket named by newSocketPath fits under `dir` without truncation. */
export function socketDirFits(dir: string): boolean {
  return Buffer.byteLength(join(dir, 'x'.repeat(SOCKET_NAME_BYTES))) <= MAX_SOCKET_PATH_BYTES;
}

/** `$XDG_RUNTIME_DIR/tokenrelay`, else `$TMPDIR/tokenrelay-<uid>` (TMPDIR defaults to /tmp). */
export function defaultSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  return runtime ? join(runtime, 'tokenrelay') : join(tmpDir(env), `tokenrelay-${uid()}`);
}

/**
 * Where a window goes when the preferred directory is too long or not ours (planted by another
 * user, a symlink): the short `/tmp/tokenrelay-<uid>`, then `~/.cache/tokenrelay/sock`.
 */
export function fallbackSocketDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  return [join('/tmp', `tokenrelay-${uid()}`), join(env.HOME || homedir(), '.cache', 'tokenrelay', 'sock')];
}

/** Every directory a window of this user may have chosen, in the order a window tries them. */
export function socketDirCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...new Set([defaultSocketDir(env), ...fallbackSocketDirs(env)])];
}

/** The rule for a socket directory found on disk (lstat): a real directory of this user, no group/other bits. */
export function isPrivateDirStat(stat: Stats): boolean {
  return stat.isDirectory() && stat.uid === uid() && (stat.mode & 0o077) === 0;
}

/** The rule for a socket found on disk (lstat): a socket of this user, no group/other bits. */
export function isPrivateSocketStat(stat: Stats): boolean {
  return stat.isSocket() && stat.uid === uid() && (stat.mode & 0o077) === 0;
}

function tmpDir(env: NodeJS.ProcessEnv): string {
  const dir = env.TMPDIR || env.TMP || env.TEMP || '/tmp';
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

function uid(): number {
  return process.getuid?.() ?? userInfo().uid;
}
