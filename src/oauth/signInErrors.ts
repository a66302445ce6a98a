// What a failed sign-in says. The refresh path's words for an unreachable server ("keeps the
// session and retries") are wrong here: nobody is signed in yet, and nothing retries.
import { TokenRelayError, TransientError } from '../core/errors.ts';
import type { OAuthConfig } from './serverConfig.ts';

/** The error a sign-in reports: an unreachable server is named as the issuer it could not reach. */
export function signInFailure(err: unknown, config: Pick<OAuthConfig, 'issuer' | 'endpoints'>): unknown {
  if (!(err instanceof TransientError)) return err;
  const where = config.issuer ?? config.endpoints?.token ?? 'the identity provider';
  const discovery = config.issuer && !config.endpoints?.token ? ` (open ${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration in a browser to check)` : '';
  return new TokenRelayError('offline', `Cannot reach the issuer ${where}: ${err.detail}.`,
    `Check tokenrelay.issuer${discovery}, your network, proxy and VPN, then sign in again.`);
}
