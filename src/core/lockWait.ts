// Waits for the refresh lock without busy polling: journal writes (inotify) wake waiters at once;
// a slow tick only exists to notice a crashed holder's lock going stale.
import { tryLock, type HeldLock } from './refreshLock.ts';
import { TokenRelayError } from './errors.ts';
import type { Journal, JournalEvent } from './journal.ts';
import type { Logger } from './types.ts';

const STALE_CHECK_MS = 250;

export type LockOutcome = { lock: HeldLock } | { advanced: true };

export class LockWaiter {
  private wakers = new Set<(event: JournalEvent) => void>();
  /** Counts events, so that one arriving while a waiter was busy (not yet waiting) is not missed. */
  private seen = 0;

  constructor(private readonly journal: Journal, private readonly staleMs: number, private readonly log: Logger) {}

  /** Called by the broker's journal watcher (and when it adopts a generation). */
  notify(event: JournalEvent): void {
    this.seen++;
    for (const wake of [...this.wakers]) wake(event);
  }

  /** A mark to pass to `nextEvent`: events after it end the wait at once. */
  mark(): number {
    return this.seen;
  }

  /** Resolves with the lock, or early with `advanced` once `hasAdvanced()` says the wait is moot. */
  async acquire(hasAdvanced: () => Promise<boolean>, waitMs: number): Promise<LockOutcome> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const since = this.mark();
      if (await hasAdvanced()) return { advanced: true };
      const lock = await tryLock(this.journal.lockTarget, this.staleMs, this.log);
      if (lock) {
        this.log.debug('Acquired token refresh lock');
        return { lock };
      }
      if (Date.now() > deadline) {
        throw new TokenRelayError('timeout', `Another process has held the token refresh lock for over ${Math.round(waitMs / 1000)} s.`,
          'It may be frozen; Token Relay takes it over once it goes stale. Try again in a moment.');
      }
      await this.nextEvent(Math.min(STALE_CHECK_MS, Math.max(0, deadline - Date.now())), since);
    }
  }

  /** Waits for any journal event (or one since `since`), or the timeout. */
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
