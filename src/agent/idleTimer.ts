// When the agent counts as idle: no terminal request in flight, and none finished for `timeoutMs`.
// A request waiting on a refresh or a sign-in is in flight however long it takes. The countdown is
// the handle that keeps an agent's event loop alive (the socket server is unref'd); with no
// timeout (--stay) a timer that never fires keeps it alive instead.
export class IdleTimer {
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private drainedListeners: (() => void)[] = [];

  constructor(private readonly timeoutMs: number | undefined, private readonly onIdle: () => void) {
    this.arm();
  }

  /** Runs one request; the idle countdown restarts when the last one in flight ends. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.disarm();
    try {
      return await work();
    } finally {
      this.inFlight--;
      this.arm();
      if (this.inFlight === 0) for (const resolve of this.drainedListeners.splice(0)) resolve();
    }
  }

  /** Stops counting down; resolves once no request is in flight (their answers are written). */
  stop(): Promise<void> {
    this.stopped = true;
    this.disarm();
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.drainedListeners.push(resolve));
  }

  private arm(): void {
    if (this.stopped || this.inFlight > 0) return;
    this.disarm();
    if (this.timeoutMs === undefined) {
      this.timer = setInterval(() => undefined, 2 ** 30);
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped && this.inFlight === 0) this.onIdle();
    }, this.timeoutMs);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
