// The cross-process refresh lock: proper-lockfile's mkdir lock with an mtime heartbeat, so a
// crashed holder is taken over after `staleMs`. A frozen holder that wakes learns it was
// compromised; the journal's exclusive spend markers keep it from spending twice regardless.
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import type { Logger } from './types.ts';

export interface HeldLock {
  readonly compromised: boolean;
  release(): Promise<void>;
}

export const MIN_STALE_MS = 2000; // proper-lockfile's floor; heartbeat every 1 s.
const HEARTBEAT_MS = 1000;
const TICK_MS = 200;

let primed: Promise<void> | undefined;

/**
 * proper-lockfile's first lock in a process probes the file system's mtime precision by setting
 * that lock's mtime up to 1 s into the future, which would delay a takeover of it by up to 1 s.
 * A throwaway lock takes that probe once per process, before any lock that matters.
 */
export function primeLocking(scratchDir: string): Promise<void> {
  primed ??= lockfile.lock(join(scratchDir, `prime-${process.pid}`), { realpath: false, retries: 0 })
    .then((release) => release(), () => undefined);
  return primed;
}

export async function tryLock(target: string, staleMs: number, log: Logger): Promise<HeldLock | undefined> {
  let compromised = false;
  let release: () => Promise<void>;
  const stale = Math.max(staleMs, MIN_STALE_MS);
  try {
    release = await lockfile.lock(target, {
      stale,
      realpath: false,
      retries: 0,
      onCompromised: (err) => {
        compromised = true;
        log.warn(`Token refresh lock compromised (${err.message}); this process will not write over newer credentials`);
      },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
    throw err;
  }
  // A process frozen (SIGSTOP, sleep) longer than stale - heartbeat may have been overtaken before
  // proper-lockfile notices; its unlock would then delete the new holder's lock, so it must not unlock.
  let lastTick = Date.now();
  const ticker = setInterval(() => {
    const now = Date.now();
    if (now - lastTick > stale - HEARTBEAT_MS && !compromised) {
      compromised = true;
      log.warn(`This process stalled for ${now - lastTick} ms while holding the refresh lock; treating the lock as lost`);
    }
    lastTick = now;
  }, TICK_MS);
  ticker.unref();
  return {
    get compromised() { return compromised; },
    release: async () => {
      clearInterval(ticker);
      if (compromised) return;
      await release().catch((err: Error) => log.warn(`Releasing the refresh lock failed: ${err.message}`));
    },
  };
}
