// Fires shortly before expiry. Timers stall while a laptop sleeps, so it sleeps in short chunks
// and compares against the wall clock each time it wakes.
import type { Clock } from './types.ts';

const CHUNK_MS = 15_000;

export class ProactiveTimer {
  private handle: NodeJS.Timeout | undefined;
  private dueAt: number | undefined;

  constructor(private readonly clock: Clock, private readonly fire: () => void | Promise<void>) {}

  schedule(at: number | undefined): void {
    this.cancel();
    if (at === undefined) return;
    this.dueAt = at;
    this.arm();
  }

  retryIn(ms: number): void {
    this.schedule(this.clock.now() + ms);
  }

  cancel(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
    this.dueAt = undefined;
  }

  private arm(): void {
    const wait = Math.max(0, Math.min(CHUNK_MS, (this.dueAt ?? 0) - this.clock.now()));
    this.handle = setTimeout(() => {
      if (this.dueAt === undefined) return;
      if (this.clock.now() < this.dueAt) return this.arm();
      this.dueAt = undefined;
      this.handle = undefined;
      void this.fire();
    }, wait);
    this.handle.unref();
  }
}
