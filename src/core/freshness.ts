// When a token counts as fresh and when to refresh it (P8). Servers date `exp` in whole seconds,
// so the OAuth client takes a second off `expires_in`; the margin is never below 1 s plus the
// measured refresh round trip, whatever the lifetime, so a short-lived token is never handed out
// as the server lets it die.
import type { TokenSet } from './types.ts';

const MIN_MARGIN_MS = 1000;
const MAX_JITTER_MS = 5000;

export class FreshnessPolicy {
  constructor(private readonly skewMs = 60_000, private readonly random: () => number = Math.random) {}

  /** How long before expiry a token stops counting as fresh. */
  marginMs(t: TokenSet): number {
    const lifetime = t.expiresAt - t.obtainedAt;
    const floor = MIN_MARGIN_MS + Math.max(0, t.roundTripMs ?? 0);
    return Math.max(floor, Math.min(this.skewMs, lifetime / 4));
  }

  remainingMs(t: TokenSet, now: number): number {
    return t.expiresAt - now;
  }

  /** Fresh enough to hand out; `minValidityMs` asks for more (bounded by half the lifetime). */
  isFresh(t: TokenSet, now: number, minValidityMs?: number): boolean {
    const lifetime = t.expiresAt - t.obtainedAt;
    const wanted = minValidityMs === undefined ? 0 : Math.min(minValidityMs, lifetime / 2);
    return this.remainingMs(t, now) > Math.max(this.marginMs(t), wanted);
  }

  /** Not yet expired (expiry is already conservative): handed out while a refresh is pending or failing. */
  isUsable(t: TokenSet, now: number): boolean {
    return this.remainingMs(t, now) > 0;
  }

  /** When the proactive timer should fire: before the margin, jittered so windows do not collide. */
  refreshAt(t: TokenSet): number {
    const margin = this.marginMs(t);
    return t.expiresAt - margin - this.random() * Math.min(MAX_JITTER_MS, margin / 4);
  }
}
