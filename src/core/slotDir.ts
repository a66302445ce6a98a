// The slot directory and its subfolders: created 0700, and trusted only when they are real
// directories (no symlinks) owned by this user with no group or other bits. A wrong mode on our
// own directory is repaired; anything else is refused with the fix.
import { accessSync, chmodSync, constants, lstatSync, mkdirSync, statfsSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import { TokenRelayError } from './errors.ts';

const PRIVATE = 0o700;

/** Creates or checks `dir` (checkPrivateDir); true when its mode had to be repaired. */
export function ensurePrivateDir(dir: string, what = 'slot directory'): boolean {
  // The common case, every start of every process: it exists. One lstat, not a mkdir whose EEXIST
  // is thrown and caught (about 14 per one-shot CLI run).
  if (existingDir(dir)) return checkPrivateDir(dir, what);
  try {
    mkdirSync(dirname(dir), { recursive: true, mode: PRIVATE });
    try {
      mkdirSync(dir, { mode: PRIVATE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } catch (err) {
    throw unwritable(dir, what, (err as NodeJS.ErrnoException).code ?? String(err));
  }
  return checkPrivateDir(dir, what);
}

/** A directory is there (a failed look, e.g. ENOTDIR under a file, says no: mkdir then names the problem). */
function existingDir(dir: string): boolean {
  try {
    return lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

/**
 * Refuses a directory this user does not own exclusively; repairs only its mode bits, and then
 * returns true: whatever others put in it meanwhile is the caller's to distrust (slotGuard.ts).
 */
export function checkPrivateDir(dir: string, what = 'slot directory'): boolean {
  if (process.platform === 'win32') return false;
  const stat = lstatSync(dir);
  if (stat.isSymbolicLink() || !stat.isDirectory()) {
    throw new TokenRelayError('lock-dir', `Token Relay's ${what} ${dir} is not a plain directory (a symlink or a file is in its place).`,
      'Remove it so Token Relay can recreate it (the CLI does at its next run; reload windows and restart the agent).');
  }
  if (stat.uid !== process.getuid!()) {
    throw new TokenRelayError('lock-dir', `Token Relay's ${what} ${dir} belongs to another user (uid ${stat.uid}).`,
      'Remove it (it may have been planted) so Token Relay can recreate it (the CLI does at its next run; reload windows and restart the agent).');
  }
  if ((stat.mode & 0o077) !== 0) {
    try {
      chmodSync(dir, PRIVATE);
    } catch (err) {
      throw unwritable(dir, what, (err as NodeJS.ErrnoException).code ?? String(err));
    }
    return true;
  }
  return false;
}

/** What each errno means for a directory, and its fix. */
const REFUSALS: Record<string, { cause: string; fix: string }> = {
  EROFS: { cause: 'its file system is read-only', fix: 'Make the directory writable: remount its file system read-write.' },
  ENOSPC: { cause: 'the disk is full', fix: 'Make the directory writable: free disk space on its file system.' },
  EDQUOT: { cause: 'your disk quota is used up', fix: 'Make the directory writable: free space within your disk quota.' },
  EACCES: { cause: 'permission denied', fix: 'Make the directory writable by your user (chmod u+rwx, or chown it to yourself).' },
  EPERM: { cause: 'operation not permitted', fix: 'Make the directory writable by your user (chmod u+rwx, chown it to yourself, or clear an immutable flag).' },
};

/** The directory refused a write: names it (and the subfolder that refused, if another), the cause and the fix. */
export function unwritable(dir: string, what: string, reason: string, refusedIn?: string): TokenRelayError {
  const known = REFUSALS[reason];
  const where = refusedIn && refusedIn !== dir ? `, in ${refusedIn}` : '';
  return new TokenRelayError('lock-dir', `Token Relay cannot write its ${what} ${dir} (${known ? `${known.cause}: ${reason}` : reason}${where}).`,
    `${known?.fix ?? 'Make the directory writable by your user or free disk space.'} Token Relay retries by itself.`);
}

/** `unwritable` for a failed file operation inside `dir`, from its errno and path. */
export function refusedWrite(dir: string, what: string, err: unknown): TokenRelayError {
  const { code, path, dest } = (err ?? {}) as NodeJS.ErrnoException & { dest?: string };
  const target = dest ?? path; // a rename is refused where it lands
  const refusedIn = target?.startsWith(`${dir}${sep}`) ? dirname(target) : undefined;
  return unwritable(dir, what, code ?? String(err), refusedIn);
}

/**
 * Whether `dir` would take a write, found without writing: a host that never writes at start (the
 * one-shot CLI) still reports a read-only or full disk before its next refresh fails on it.
 */
export function probeWritable(dir: string, what: string): TokenRelayError | undefined {
  try {
    accessSync(dir, constants.W_OK);
    const fs = statfsSync(dir);
    // root may use blocks reserved from others; everyone else only the available ones.
    if ((process.getuid?.() === 0 ? fs.bfree : fs.bavail) === 0) return unwritable(dir, what, 'ENOSPC');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code in REFUSALS) return unwritable(dir, what, code);
  }
  return undefined;
}
