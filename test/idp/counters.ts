// What the IdP observed, so tests assert on server-side truth rather than client claims.

export interface Counters {
  refreshGrants: number;
  authorizationCodeGrants: number;
  deviceCodeGrants: number;
  grantRevocations: number;
  /** Reuse-grace replays (grace.ts); always 0 in strict mode. */
  graceReuses: number;
  tokensIssued: number;
  errors: Record<string, number>;
  apiCalls: number;
  api401s: number;
  /** Token requests a fault answered (faults.ts) instead of the server: each was a presentation, none rotated anything. */
  faultAnswers: number;
  /** Token endpoint requests by how the client authenticated: none, client_secret_basic, client_secret_post. */
  tokenAuth: Record<string, number>;
}

export type CounterName = Exclude<keyof Counters, 'errors' | 'tokenAuth'>;

function zero(): Counters {
  return {
    refreshGrants: 0,
    authorizationCodeGrants: 0,
    deviceCodeGrants: 0,
    grantRevocations: 0,
    graceReuses: 0,
    tokensIssued: 0,
    errors: {},
    apiCalls: 0,
    api401s: 0,
    faultAnswers: 0,
    tokenAuth: {},
  };
}

export class CounterStore {
  private counts = zero();
  /** Never reset: tests scan logs for any of these values. */
  private readonly issued: string[] = [];
  private latestAccess: string | undefined;
  private latestId: string | undefined;

  bump(name: CounterName): void { this.counts[name] += 1; }

  error(reason: string): void { this.counts.errors[reason] = (this.counts.errors[reason] ?? 0) + 1; }

  tokenAuth(method: string): void { this.counts.tokenAuth[method] = (this.counts.tokenAuth[method] ?? 0) + 1; }

  recordIssued(accessToken: string, refreshToken: string | undefined, idToken?: string): void {
    this.counts.tokensIssued += 1;
    this.latestAccess = accessToken;
    // The id token first: callers read the newest access and refresh token at the end.
    if (idToken) {
      this.latestId = idToken;
      this.issued.push(idToken);
    }
    this.issued.push(accessToken);
    if (refreshToken) this.issued.push(refreshToken);
  }

  snapshot(): Counters { return { ...this.counts, errors: { ...this.counts.errors }, tokenAuth: { ...this.counts.tokenAuth } }; }
  reset(): void { this.counts = zero(); }
  issuedTokens(): string[] { return [...this.issued]; }
  latestAccessToken(): string | undefined { return this.latestAccess; }
  latestIdToken(): string | undefined { return this.latestId; }
}
