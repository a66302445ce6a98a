// Timers that frozen time cannot win (P8). When a process is stopped (SIGSTOP, a debugger) its
// overdue timers run before the I/O that arrived meanwhile; a timer that fires much later than
// asked concludes the process was frozen and gives that I/O a moment before it counts as expired.
import { TIMEOUTS } from './timeouts.ts';

const FROZEN_LATENESS_MS = 500;

/** Resolves once `ms` have passed with the process running. */
export async function elapsed(ms: number): Promise<void> {
  let budget = ms;
  for (;;) {
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, budget).unref());
    const late = performance.now() - start - budget;
    if (late < FROZEN_LATENESS_MS) return;
    budget = TIMEOUTS.frozenGrace;
  }
}

export const TIMED_OUT = Symbol('timed out');

/** The promise's value, or TIMED_OUT when it had not settled after `ms` of running time. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  type Settled = { ok: true; value: T } | { ok: false; error: unknown };
  const settled = promise.then((value): Settled => ({ ok: true, value }), (error: unknown): Settled => ({ ok: false, error }));
  const outcome = await Promise.race([settled, elapsed(ms).then((): typeof TIMED_OUT => TIMED_OUT)]);
  if (outcome === TIMED_OUT) return TIMED_OUT;
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}
