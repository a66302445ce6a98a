// The cross-process refresh lock: proper-lockfile's mkdir lock with an mtime heartbeat, so a
// crashed holder is taken over after `staleMs`. It only keeps processes from working at the same
// time; safety rests on the spend claims. So a lock error (ENOENT or EEXIST while several
// processes take a stale lock over at once) means "not acquired, try again", never a caller's
// error, and a holder releases only a lock it still owns (an owner file written after acquiring).
import fs, { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type * as Lockfile from 'proper-lockfile';
import type { Logger } from './types.ts';

/**
 * proper-lockfile (and the graceful-fs it patches fs with) loaded at the first lock: a process that
 * only reads a fresh token (the one-shot CLI host) never takes one. ~3 ms of its start-up.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const lockfile = (): typeof Lockfile => require('proper-lockfile') as typeof Lockfile;

export interface HeldLock {
  readonly compromised: boolean;
  release(): Promise<void>;
}

export const MIN_STALE_MS = 2000; // proper-lockfile's floor; heartbeat every 1 s.
const HEARTBEAT_MS = 1000;
const TICK_MS = 200;

/** proper-lockfile's mkdir with this project's directory mode (0700) instead of the umask's. */
const privateFs = { ...fs, mkdir: (path: string, callback: (err: NodeJS.ErrnoException | null) => void) => fs.mkdir(path, 0o700, callback) };

let primed: Promise<void> | undefined;

/**
 * proper-lockfile's first lock in a process probes the file system's mtime precision by setting
 * that lock's mtime up to 1 s into the future, which would delay a takeover of it by up to 1 s.
 * A throwaway lock takes that probe once per process, before any lock that matters.
 */
export function primeLocking(scratchDir: string): Promise<void> {
  primed ??= lockfile().lock(join(scratchDir, `prime-${process.pid}`), { realpath: false, retries: 0 })
    .then((release) => release(), () => undefined);
  return primed;
}

/** The lock, or undefined when someone else holds it (or a takeover race was lost). */
export async function tryLock(lockDir: string, staleMs: number, log: Logger): Promise<HeldLock | undefined> {
  let compromised = false;
  let release: () => Promise<void>;
  const stale = Math.max(staleMs, MIN_STALE_MS);
  try {
    release = await lockfile().lock(join(lockDir, 'refresh'), {
      fs: privateFs,
      stale,
      update: HEARTBEAT_MS,
      realpath: false,
      retries: 0,
      onCompromised: (err) => {
        compromised = true;
        log.warn(`Token refresh lock compromised (${err.message}); the spend claims still keep this process from spending twice`);
      },
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOCKED' || code === 'ENOENT' || code === 'EEXIST' || code === 'ENOTEMPTY') return undefined;
    throw err;
  }
  const owner = randomBytes(9).toString('hex');
  const ownerFile = join(lockDir, 'owner');
  try {
    const temp = `${ownerFile}.${owner}`;
    writeFileSync(temp, owner, { mode: 0o600 });
    renameSync(temp, ownerFile);
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
  // A process frozen (SIGSTOP, sleep) past stale - heartbeat may have been overtaken before
  // proper-lockfile notices: its work goes on (the claims keep it safe), but it says so.
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - lastTick > stale - HEARTBEAT_MS && !compromised) {
      compromised = true;
      log.warn(`This process stalled for ${Math.round(now - lastTick)} ms while holding the refresh lock; treating the lock as lost`);
    }
    lastTick = now;
  }, TICK_MS);
  ticker.unref();
  return {
    get compromised() { return compromised; },
    release: async () => {
      clearInterval(ticker);
      if (readOwner(ownerFile) !== owner) return; // taken over: never remove another holder's lock
      // Ours still (a stall nobody used): release it, or its heartbeat keeps it fresh for good.
      await release().catch((err: Error) => log.debug(`Releasing the refresh lock: ${err.message}`));
    },
  };
}

function readOwner(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

