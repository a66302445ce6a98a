// Errors the user can read: each names the problem and the fix. `code` is stable for callers (CLI exit codes).

export type ErrorCode =
  | 'not-signed-in'
  | 'needs-sign-in'
  | 'offline'
  | 'idp-rejected'
  | 'config'
  | 'corrupt-secret'
  | 'corrupt-record'
  | 'key-missing'
  | 'lock-dir'
  | 'degraded'
  | 'refresh-stuck'
  | 'stale-view'
  | 'timeout'
  | 'cancelled'
  | 'protocol'
  | 'fresh-token-rejected'
  | 'key-store'
  | 'unknown-profile';

export class TokenRelayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fix?: string,
  ) {
    super(fix ? `${message} ${fix}` : message);
    this.name = 'TokenRelayError';
  }
}

/** The refresh token was refused for good (`invalid_grant`): only a new sign-in helps. */
export class InvalidGrantError extends TokenRelayError {
  constructor(readonly detail: string) {
    super('needs-sign-in', `The identity provider no longer accepts the stored sign-in (${detail}).`,
      'Sign in again from the Accounts menu.');
  }
}

/**
 * A server refused the resource a refresh asked for (invalid_target, or a refusal naming `resource`).
 * The answer issued no tokens, but a server may have rotated the refresh token before it looked at
 * the resource (oidc-provider does), so the refresh procedure counts the token as possibly spent.
 */
export class ResourceRefusedError extends TokenRelayError {
  constructor(readonly resource: string, readonly detail: string, entra: boolean) {
    super('idp-rejected', `The identity provider refused a token for the resource ${resource} (${detail}).`,
      entra
        ? 'Use the API\'s application ID URI (api://… or its https URI, as in "Expose an API") and make sure the API permission is granted to this client.'
        : 'Check that the identity provider supports RFC 8707 resource indicators on refresh, and that this client is allowed that resource (it may have to be requested at sign-in).');
    this.name = 'ResourceRefusedError';
  }
}

/** Token Relay itself ended the sign-in to keep a possibly spent refresh token from being presented again (P1). */
export function signInEnded(why: string): TokenRelayError {
  return new TokenRelayError('needs-sign-in', `Token Relay stopped using the stored sign-in: ${why}.`, 'Sign in again from the Accounts menu.');
}

/** Network error, timeout, 5xx or 429: the session is kept and the refresh retried later. */
export class TransientError extends TokenRelayError {
  constructor(readonly detail: string, readonly mayHaveReachedServer: boolean) {
    super('offline', `The identity provider could not be reached (${detail}).`,
      'Token Relay keeps the session and retries; check the network or the issuer setting.');
  }
}

/** A server rejected a token issued moments ago to replace one it had rejected: refreshing again would not help. */
export function freshTokenRejected(gen: number, ageMs: number): TokenRelayError {
  return new TokenRelayError('fresh-token-rejected', 'The server rejects freshly issued tokens: check tokenrelay.resource / scopes / audience.',
    `The rejected token (generation ${gen}) was issued ${Math.round(ageMs / 1000)} s ago to replace a rejected one, so Token Relay does not refresh it again; `
    + 'make the token\'s audience and scopes match what the server expects.');
}

export function isTokenRelayError(err: unknown, code?: ErrorCode): err is TokenRelayError {
  return err instanceof TokenRelayError && (code === undefined || err.code === code);
}

/** One line for logs and users: never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
