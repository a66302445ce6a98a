// What a window offers to its consumers (terminal socket, extension API): tokens from the one
// refresh path, status without tokens, and a way to ask the user to sign in.
import type { AccessGrant, BrokerStatus } from './broker.ts';

export interface TokenRequest {
  /** Scopes the caller needs; must be covered by the configured scopes. */
  scopes?: string[];
  minValidityMs?: number;
  /** A token the caller's server answered 401 to. */
  rejectedAccessToken?: string;
  /** Account id or label; the first signed-in account when absent. */
  account?: string;
}

export interface ServiceStatus extends BrokerStatus {
  issuer?: string;
  clientId?: string;
}

export interface TokenService {
  getToken(request: TokenRequest): Promise<AccessGrant>;
  status(): ServiceStatus;
  /** Shows the window's sign-in; resolves once signed in, rejects if the user cancels. */
  requestSignIn(): Promise<void>;
}
