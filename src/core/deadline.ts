// Deadlines that count running time only (P8). While a process is stopped (SIGSTOP, a debugger,
// Ctrl+Z) its clock runs on, and when it resumes its overdue timers run before the I/O that
// arrived meanwhile. So a wait is made of short steps, and a step that took much longer than asked
// counts only as long as asked: an answer already in the socket is read before the wait can end.
const STEP_MS = 100;
const FROZEN_LATENESS_MS = 50;

/** Resolves once `ms` of running (not frozen) time have passed. */
export async function elapsed(ms: number): Promise<void> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(STEP_MS, left);
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, step).unref());
    const took = performance.now() - start;
    left -= took - step > FROZEN_LATENESS_MS ? step : took; // a frozen stretch does not count
  }
}

export const TIMED_OUT = Symbol('timed out');

/** The promise's value, or TIMED_OUT when it had not settled after `ms` of running time. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  type Settled = { ok: true; value: T } | { ok: false; error: unknown };
  let settledYet = false;
  const settled = promise.then((value): Settled => ({ ok: true, value }), (error: unknown): Settled => ({ ok: false, error }))
    .finally(() => { settledYet = true; });
  const outcome = await Promise.race([settled, elapsed(ms).then((): typeof TIMED_OUT => TIMED_OUT)]);
  if (outcome === TIMED_OUT && !settledYet) return TIMED_OUT;
  const result = await settled;
  if (!result.ok) throw result.error;
  return result.value;
}
