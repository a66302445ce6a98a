// What a window offers the consumers that only need tokens and status (terminal socket, extension
// API). AccountService implements it; nothing else does in the extension.
import type { AccessGrant, BrokerStatus } from '../core/broker.ts';

export interface TokenRequest {
  /** Scopes the caller needs; must be covered by the configured scopes. */
  scopes?: readonly string[];
  minValidityMs?: number;
  /** A token the caller's server answered 401 to. */
  rejectedAccessToken?: string;
  /** Account id or label; the first signed-in account when absent. */
  account?: string;
  /** The profile (profiles.ts); the host's first one when absent. A `profile:` scope says the same. */
  profile?: string;
  /** The API the token is for (RFC 8707 resource indicator, absolute URI); absent: tokenrelay.resource. */
  resource?: string;
}

export interface ServiceStatus extends BrokerStatus {
  issuer?: string;
  clientId?: string;
  /** Why this process's last interactive sign-in failed, until the next attempt. */
  lastSignInError?: string;
  /** Nothing is configured yet (a fresh install): a set-up step, not an error. */
  unconfigured?: boolean;
}

export interface TokenService {
  getToken(request: TokenRequest): Promise<AccessGrant>;
  /** The profile's status (default: the host's first profile); an unknown profile throws `unknown-profile`. */
  status(profile?: string): ServiceStatus;
  /** Shows the window's sign-in for the profile; resolves once signed in, rejects if the user cancels. */
  requestSignIn(profile?: string): Promise<void>;
  /** Signs out, in every window and terminal, the account (default: the primary one) and revokes its grant (RFC 7009); undefined when nobody was signed in. */
  signOutAccount(account?: string, profile?: string): Promise<SignedOut | undefined>;
  /** The profiles this host serves, its first (default) one first. */
  profiles(): string[];
}

export interface SignedOut {
  id: string;
  label: string;
  /** Set when the revocation failed: the server's answer, and that the grant may still be active (the local sign-out happened). */
  revocationWarning?: string;
}

/** Where a host keeps things, for `tokenrelay status` (never a secret). */
export interface HostDescription {
  profile?: string;
  store?: string;
  keyStore?: string;
}
