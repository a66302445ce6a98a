// Maps whatever oauth4webapi or fetch threw to one of the core's readable errors. The server's own
// words (`error`, `error_description`) are redacted here, where they are received: a server may
// echo the tokens it was sent, and every later copy (status.json, records, CLI, logs) starts here.
import * as oauth from 'oauth4webapi';
import { InvalidGrantError, TokenRelayError, TransientError, describeError } from '../core/errors.ts';
import { redactor } from '../core/redact.ts';

const FIXES: Record<string, string> = {
  invalid_client: 'Check tokenrelay.clientId and that the client is registered as a public client (no secret).',
  unauthorized_client: 'Allow this grant type for the client at the identity provider.',
  invalid_scope: 'Check tokenrelay.scopes: the identity provider does not offer one of them to this client.',
  access_denied: 'Sign-in was refused at the identity provider; try again or ask its administrator.',
  invalid_request: 'Check the tokenrelay settings (issuer, endpoints, client id, redirect) against the identity provider.',
  invalid_target: 'Check tokenrelay.resource: the identity provider does not accept that resource.',
};

/** Connection failures that prove the request never reached the server. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL']);

export function classifyOAuthError(err: unknown, during: string): TokenRelayError {
  if (err instanceof TokenRelayError) return err;
  if (err instanceof oauth.ResponseBodyError) {
    const detail = serverSaid(err);
    if (err.error === 'invalid_grant') return new InvalidGrantError(detail);
    if (err.status >= 500 || err.status === 429 || err.error === 'temporarily_unavailable' || err.error === 'server_error') {
      return new TransientError(`HTTP ${err.status} ${detail} during ${during}`, false); // answered: nothing was rotated
    }
    return rejected(during, detail, err.error);
  }
  if (err instanceof oauth.AuthorizationResponseError) {
    return rejected(during, serverSaid(err), err.error);
  }
  const name = (err as Error)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return new TransientError(`timed out during ${during}`, true);
  if (err instanceof TypeError && /fetch failed/i.test(err.message)) {
    const code = (err.cause as NodeJS.ErrnoException | undefined)?.code ?? 'network error';
    // Refused or unresolvable: never sent. Anything else (a reset) may have been processed.
    return new TransientError(`${code} during ${during}`, !NEVER_SENT.has(code));
  }
  if (err instanceof oauth.OperationProcessingError) {
    const response = err.cause instanceof Response ? err.cause : undefined;
    if (response && (response.status >= 500 || response.status === 429)) {
      return new TransientError(`HTTP ${response.status} during ${during}`, false);
    }
    return new TokenRelayError('protocol', `The identity provider's answer to ${during} is not valid OAuth (${redactor.redact(err.message)}).`,
      'Check that tokenrelay.issuer (or tokenrelay.endpoints) points at an OAuth 2.0 / OpenID Connect server.');
  }
  return new TokenRelayError('protocol', `${during} failed: ${redactor.redact(describeError(err))}.`, 'See the Token Relay log for details.');
}

/** The server's error code and description, with every token redacted. */
function serverSaid(err: { error: string; error_description?: string }): string {
  return redactor.redact(err.error_description ? `${err.error}: ${err.error_description}` : err.error);
}

function rejected(during: string, detail: string, code: string): TokenRelayError {
  return new TokenRelayError('idp-rejected', `The identity provider refused ${during} (${detail}).`,
    FIXES[code] ?? 'Check the tokenrelay settings against the identity provider.');
}
