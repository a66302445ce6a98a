// Shared shapes and the ports the core is driven through. Nothing here imports `vscode`.

export interface Disposable {
  dispose(): void;
}

/** Tokens of one grant. `expiresAt` is local wall-clock ms, computed when the response arrived. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  tokenType: string;
  scope?: string;
  expiresAt: number;
  obtainedAt: number;
  /** The token request's round trip, when measured: part of the refresh margin (P8). */
  roundTripMs?: number;
}

export interface Account {
  id: string;
  label: string;
}

/**
 * Where a grant's refresh token came from: the only place it is presented (tokenOrigin.ts). Kept in
 * the sealed generation record, written at sign-in and carried forward by every refresh.
 */
export interface TokenOrigin {
  tokenEndpoint: string;
  issuer: string;
  clientId: string;
}

/** What a completed sign-in hands to the store: the grant, whose it is, and where it came from. */
export interface SignedIn {
  tokens: TokenSet;
  account: Account;
  origin: TokenOrigin;
}

/** A secret store as VS Code's SecretStorage offers it: possibly stale between processes. */
export interface SecretStore {
  get(key: string): Promise<string | undefined>;
  store(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  onDidChange(listener: (key: string) => void): Disposable;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What the broker needs from an OAuth client; `src/oauth` implements it with oauth4webapi. */
export interface RefreshClient {
  /** Optional warm-up (e.g. discovery) so the first refresh pays only its own round trip. */
  prepare?(): Promise<void>;
  /** Where a refresh would go under the current configuration (discovering it if needed); sends no token. */
  origin(): Promise<TokenOrigin>;
  /**
   * Presents the refresh token to `to.tokenEndpoint` as client `to.clientId`, and nowhere else.
   * `beforeSend`, when the client declares `callsBeforeSend`: called synchronously, before the
   * request carrying the token is created (no byte of it can have reached the kernel), at most once
   * per request; if it throws, nothing is sent and refresh rejects with what it threw. The core marks
   * the spend claim there. For a client that does not declare it, the core marks before calling refresh.
   * `resource`: the audience to ask for (RFC 8707 §2.2); absent, the configured one. A server that
   * refuses it throws ResourceRefusedError.
   */
  refresh(refreshToken: string, signal: AbortSignal, to: TokenOrigin, beforeSend?: () => void, resource?: string): Promise<TokenSet>;
  readonly callsBeforeSend?: boolean;
  /** The resource a refresh without one asks for (tokenrelay.resource): a request naming it is the default audience. */
  readonly defaultResource?: string;
  revoke(token: string, hint: 'refresh_token' | 'access_token', signal: AbortSignal): Promise<void>;
}
