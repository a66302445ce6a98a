// Where sockets live: a per-user directory only its owner can enter (0700), ssh-agent style. The
// directory is created and checked by the core's ensurePrivateDir (the slot directory's rules:
// no symlinks, no other owner, loose modes of our own repaired). When the preferred one is too long
// for a socket path or not ours, the next candidate is used, and the choice is explained.
import { promises as fs } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TokenRelayError, describeError } from '../core/errors.ts';
import { removeFile } from '../core/removeFile.ts';
import { ensurePrivateDir } from '../core/slotDir.ts';
import { MAX_SOCKET_PATH_BYTES, SOCKET_NAME_BYTES, fallbackSocketDirs, socketDirFits } from './socketPaths.ts';

export { defaultSocketDir, fallbackSocketDirs } from './socketPaths.ts';

export interface SocketDirChoice {
  dir: string;
  /** Why the preferred directory was not used (for the log and `tokenrelay status`); absent when it was. */
  notice?: string;
}

/**
 * The first usable directory of `preferred`, then `fallbacks`: short enough for a socket path and,
 * once created, private to this user. Throws a lock-dir error listing every refusal when none is.
 */
export function chooseSocketDir(preferred: string, fallbacks: string[] = fallbackSocketDirs()): SocketDirChoice {
  if (process.platform === 'win32') return { dir: preferred };
  const refused: string[] = [];
  for (const dir of [...new Set([preferred, ...fallbacks])]) {
    if (!socketDirFits(dir)) {
      refused.push(`${dir} is too long for a socket path (${Buffer.byteLength(dir)} bytes; at most ${MAX_SOCKET_PATH_BYTES - SOCKET_NAME_BYTES - 1} fit)`);
      continue;
    }
    try {
      ensurePrivateDir(dir, 'socket directory');
    } catch (err) {
      refused.push(describeError(err));
      continue;
    }
    return refused.length ? { dir, notice: `Token Relay's sockets are in ${dir}, because ${refused.join('; and ')}` } : { dir };
  }
  throw new TokenRelayError('lock-dir', `Token Relay found no private directory for its sockets: ${refused.join('; ')}.`,
    'Set XDG_RUNTIME_DIR to a short directory only you can enter (mode 0700), then reload the window or restart the agent.');
}

/** An unguessable socket (or, on Windows, named pipe) path. */
export function newSocketPath(dir: string, kind: string): string {
  const name = `${kind}-${randomBytes(12).toString('hex')}`;
  return process.platform === 'win32' ? `\\\\.\\pipe\\tokenrelay-${name}` : join(dir, `${name}.sock`);
}

/** Removes sockets nobody listens on any more (windows that died without cleaning up). */
export async function removeStaleSockets(dir: string): Promise<number> {
  if (process.platform === 'win32') return 0;
  let removed = 0;
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.endsWith('.sock')).map(async (n) => {
    const path = join(dir, n);
    if (await isListening(path)) return;
    await removeFile(path);
    removed++;
  }));
  return removed;
}

export function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
