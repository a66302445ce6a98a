// The test suites' only waiting primitives, written once. No sleep stands in for synchronisation:
// `waitFor` polls an observable condition with a bound; `sleep` is for a fault's own duration (a
// freeze of N seconds) or a deadline the system under test sets; `until` waits for a wall-clock instant.
import assert from 'node:assert/strict';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Resolves once `check()` holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Waits until the wall clock reaches `at` (a token's expiry, a storm's start). */
export const until = (at: number) => sleep(at - Date.now());
