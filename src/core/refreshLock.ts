// The cross-process refresh lock: proper-lockfile's mkdir lock with an mtime heartbeat, so a
// crashed holder is taken over after `staleMs`. A frozen holder that wakes learns it was
// compromised; the journal's exclusive spend markers keep it from spending twice regardless.
import lockfile from 'proper-lockfile';
import type { Logger } from './types.ts';

export interface HeldLock {
  readonly compromised: boolean;
  release(): Promise<void>;
}

export const MIN_STALE_MS = 2000; // proper-lockfile's floor; heartbeat every 1 s.

export async function tryLock(target: string, staleMs: number, log: Logger): Promise<HeldLock | undefined> {
  let compromised = false;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      stale: Math.max(staleMs, MIN_STALE_MS),
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
  return {
    get compromised() { return compromised; },
    release: async () => {
      if (compromised) return;
      await release().catch((err: Error) => log.warn(`Releasing the refresh lock failed: ${err.message}`));
    },
  };
}
