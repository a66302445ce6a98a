// The opt-in key file store (TOKENRELAY_KEY_STORE=file or tokenrelay.keyStore "file"): for hosts
// without an OS keyring (containers, headless servers). Not protected by the OS beyond file
// permissions, which is why it is never chosen silently and says so in its description.
//
// One file per entry, so two processes writing different entries (K and its mark) never lose each
// other's write; each written whole by replaceDurable (fsync'd, renamed, directory fsync'd). The
// directory is 0700 and every file 0600; a file that is a symlink, not ours, or readable by group or
// others is refused, and a corrupt one reported and left in place for inspection.
import { closeSync, constants, fstatSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyStore } from '../core/keyStore.ts';
import { TokenRelayError, isTokenRelayError } from '../core/errors.ts';
import { ensurePrivateDir, checkPrivateDir } from '../core/slotDir.ts';
import { fsyncDir, replaceDurable } from '../core/durableFile.ts';

const SUFFIX = '.key';

/** The file an entry lives in: its name in base64url, so any entry name is one safe file name. */
export function keyFileName(name: string): string {
  return `${Buffer.from(name, 'utf8').toString('base64url')}${SUFFIX}`;
}

export class FileKeyStore implements KeyStore {
  readonly kind = 'file' as const;
  readonly description: string;

  constructor(private readonly dir: string) {
    this.description = `a key file, not protected by the OS (${dir})`;
  }

  async get(name: string): Promise<string | undefined> {
    const path = join(this.dir, keyFileName(name));
    let fd: number;
    try {
      this.checkDir();
      // O_NOFOLLOW: a symlink planted in place of the file is refused, not followed (ELOOP).
      fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP') throw refused(path, 'is a symlink');
      throw rethrown(err, path, 'read');
    }
    try {
      checkOwnFile(fd, path);
      return parseEntry(readFileSync(fd, 'utf8'), name, path);
    } finally {
      closeSync(fd);
    }
  }

  async set(name: string, value: string): Promise<void> {
    try {
      ensurePrivateDir(this.dir, 'key directory');
      replaceDurable(this.dir, this.dir, keyFileName(name), JSON.stringify({ v: 1, name, value }));
    } catch (err) {
      throw rethrown(err, this.dir, 'write');
    }
  }

  async delete(name: string): Promise<void> {
    try {
      this.checkDir();
      unlinkSync(join(this.dir, keyFileName(name)));
      fsyncDir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw rethrown(err, this.dir, 'delete');
    }
  }

  /** The directory, when it exists, must be ours alone (a missing one reads as empty). */
  private checkDir(): void {
    try {
      checkPrivateDir(this.dir, 'key directory');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function checkOwnFile(fd: number, path: string): void {
  if (process.platform === 'win32') return;
  const stat = fstatSync(fd);
  if (!stat.isFile()) throw refused(path, 'is not a regular file');
  if (stat.uid !== process.getuid!()) throw refused(path, `belongs to another user (uid ${stat.uid})`);
  if ((stat.mode & 0o077) !== 0) throw refused(path, `is readable or writable by others (mode ${(stat.mode & 0o777).toString(8)})`);
}

function parseEntry(text: string, name: string, path: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(text);
  } catch {
    throw corrupt(path, 'it is not JSON');
  }
  const e = entry as { v?: unknown; name?: unknown; value?: unknown } | null;
  if (e?.v !== 1 || typeof e.value !== 'string') throw corrupt(path, 'it is not a Token Relay key file of this version');
  if (e.name !== name) throw corrupt(path, 'it names another entry');
  return e.value;
}

function refused(path: string, why: string): TokenRelayError {
  return new TokenRelayError('key-store', `Token Relay refuses the key file ${path}: it ${why}.`,
    'Remove it (it may have been planted or copied in) so Token Relay writes it afresh with mode 0600, or sign in again.');
}

function corrupt(path: string, why: string): TokenRelayError {
  return new TokenRelayError('key-store', `The key file ${path} is corrupt (${why}); Token Relay left it in place.`,
    'Move it aside (keep it if you want to inspect it) and sign in again, or restore it from a backup.');
}

/** A slotDir refusal keeps its words under this port's code; anything else is named with its errno. */
function rethrown(err: unknown, path: string, what: string): TokenRelayError {
  if (isTokenRelayError(err)) {
    const suffix = err.fix ? ` ${err.fix}` : '';
    const message = suffix && err.message.endsWith(suffix) ? err.message.slice(0, -suffix.length) : err.message;
    return new TokenRelayError('key-store', message, err.fix);
  }
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new TokenRelayError('key-store', `Token Relay cannot ${what} its key file in ${path} (${code}).`,
    'Make the key directory writable by your user (chmod u+rwx), or free disk space.');
}
