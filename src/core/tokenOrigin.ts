// Where a refresh token came from, and so the only place it is ever presented. Sign-in records the
// token endpoint, issuer and client id in the sealed generation; every refresh presents the token
// there and carries the origin forward to the next generation. The configuration (settings, the
// configuration file, discovery) only says where a refresh would go now: when that differs, the
// refresh is refused, so an edited file can never send a refresh token to another server.
//
// Records written before origins were recorded have none: the current configuration is taken once
// and recorded at their next refresh. That is safe because the slot holding the record is chosen
// by (issuer, client id, account) (src/app/slots.ts), so that configuration names the same issuer
// and client that signed in; only a token endpoint configured beside an issuer is not pinned by the
// slot, and it is pinned from then on.
//
// Client authentication (none, Basic, post) is not part of the origin: it says who the client is,
// not where the token goes, and a secret added later must not force a new sign-in.
import { TokenRelayError } from './errors.ts';
import type { TokenOrigin } from './types.ts';

export type { TokenOrigin } from './types.ts';

/** Compared as URLs, issuers without trailing slashes (as the slot identity compares them). */
export function sameOrigin(a: TokenOrigin, b: TokenOrigin): boolean {
  return normalUrl(a.tokenEndpoint) === normalUrl(b.tokenEndpoint) && normalIssuer(a.issuer) === normalIssuer(b.issuer)
    && a.clientId.trim() === b.clientId.trim();
}

/** A recorded origin as a later version may read it: anything else is no origin at all. */
export function isTokenOrigin(value: unknown): value is TokenOrigin {
  const o = value as Partial<TokenOrigin> | undefined;
  return !!o && typeof o === 'object' && typeof o.tokenEndpoint === 'string' && typeof o.issuer === 'string' && typeof o.clientId === 'string';
}

/** The refusal when the configuration names another server or client than the one that issued the token. */
export function originChanged(recorded: TokenOrigin, configured: TokenOrigin): TokenRelayError {
  const differs = [
    normalUrl(recorded.tokenEndpoint) !== normalUrl(configured.tokenEndpoint) && `token endpoint ${configured.tokenEndpoint}`,
    normalIssuer(recorded.issuer) !== normalIssuer(configured.issuer) && `issuer ${configured.issuer}`,
    recorded.clientId.trim() !== configured.clientId.trim() && `client id ${configured.clientId}`,
  ].filter(Boolean).join(', ');
  return new TokenRelayError('config',
    `The stored sign-in was issued by ${recorded.tokenEndpoint} to client ${recorded.clientId} (issuer ${recorded.issuer}), but the configuration now names ${differs}; `
    + 'Token Relay presents a refresh token only to the server that issued it, so it did not refresh.',
    'Sign in again with the new configuration, or restore the previous token endpoint setting to keep using this sign-in.');
}

function normalUrl(value: string): string {
  try {
    return new URL(value).href;
  } catch {
    return value;
  }
}

function normalIssuer(value: string): string {
  return value.trim().replace(/\/+$/, '');
}
