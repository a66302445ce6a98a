// Where sockets live: a per-user directory only its owner can enter (0700), ssh-agent style.
import { promises as fs, constants } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TokenRelayError } from '../core/errors.ts';
import { removeFile } from '../core/removeFile.ts';

export function defaultSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  return runtime ? join(runtime, 'tokenrelay') : join(tmpdir(), `tokenrelay-${userInfo().uid}`);
}

/** Creates (or repairs) the directory with mode 0700 and refuses one owned by another user. */
export async function ensureSocketDir(dir: string): Promise<string> {
  if (process.platform === 'win32') return dir;
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const stat = await fs.lstat(dir);
    if (!stat.isDirectory() || stat.uid !== process.getuid!()) {
      throw new TokenRelayError('lock-dir', `The socket directory ${dir} is not a directory owned by you.`,
        'Remove it, or set XDG_RUNTIME_DIR to a private directory, then reload the window.');
    }
    if ((stat.mode & 0o777) !== 0o700) await fs.chmod(dir, 0o700);
  } catch (err) {
    if (err instanceof TokenRelayError) throw err;
    throw new TokenRelayError('lock-dir', `Token Relay cannot create its socket directory ${dir} (${(err as NodeJS.ErrnoException).code}).`,
      'Make the parent directory writable, or set XDG_RUNTIME_DIR, then reload the window.');
  }
  return dir;
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

export async function isPrivateSocket(path: string): Promise<boolean> {
  const stat = await fs.stat(path);
  return (stat.mode & 0o077) === 0 && (stat.mode & constants.S_IFMT) === constants.S_IFSOCK;
}
