// Waits for the refresh lock without busy polling: store writes (inotify) wake waiters at once;
// a slow tick only exists to notice a crashed holder's lock going stale.
import { primeLocking, tryLock, type HeldLock } from './refreshLock.ts';
import { TokenRelayError } from './errors.ts';
import type { Logger } from './types.ts';
import { TIMEOUTS } from './timeouts.ts';

export type LockOutcome = { lock: HeldLock } | { advanced: true };

export class LockWaiter {
  private wakers = new Set<() => void>();
  /** Counts events, so that one arriving while a waiter was busy (not yet waiting) is not missed. */
  private seen = 0;

  /** `scratchDir`: where primeLocking takes its throwaway lock before this process's first real one. */
  constructor(private readonly lockDir: string, private readonly staleMs: number, private readonly log: Logger, private readonly scratchDir?: string) {}

  /** Called on every store event and adoption. */
  notify(): void {
    this.seen++;
    for (const wake of [...this.wakers]) wake();
  }

  /** A mark to pass to `nextEvent`: events after it end the wait at once. */
  mark(): number {
    return this.seen;
  }

  /** Resolves with the lock, or early with `advanced` once `hasAdvanced()` says the wait is moot. */
  async acquire(hasAdvanced: () => boolean, waitMs: number): Promise<LockOutcome> {
    if (this.scratchDir) await primeLocking(this.scratchDir); // once per process; a no-op when the broker primed at start
    const deadline = performance.now() + waitMs;
    for (;;) {
      const since = this.mark();
      if (hasAdvanced()) return { advanced: true };
      const lock = await tryLock(this.lockDir, this.staleMs, this.log);
      if (lock) {
        this.log.debug('Acquired token refresh lock');
        return { lock };
      }
      if (performance.now() > deadline) {
        throw new TokenRelayError('timeout', `Another process has held the token refresh lock for over ${Math.round(waitMs / 1000)} s.`,
          'It may be frozen; Token Relay takes it over once it goes stale. Try again in a moment.');
      }
      await this.nextEvent(Math.min(TIMEOUTS.staleCheck, Math.max(0, deadline - performance.now())), since);
    }
  }

  /** Waits for any store event (or one since `since`), or the timeout. */
  nextEvent(timeoutMs: number, since = this.seen): Promise<void> {
    if (this.seen !== since) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.wakers.delete(done); resolve(); };
      const timer = setTimeout(done, timeoutMs);
      this.wakers.add(done);
    });
  }
}

export async function releaseLock(lock: HeldLock, log: Logger): Promise<void> {
  await lock.release();
  log.debug('Released token refresh lock');
}
