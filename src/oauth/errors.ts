// Maps whatever oauth4webapi or fetch threw to one of the core's readable errors. The server's own
// words (`error`, `error_description`) are redacted here, where they are received: a server may
// echo the tokens it was sent, and every later copy (status.json, records, CLI, logs) starts here.
import * as oauth from 'oauth4webapi';
import { InvalidGrantError, ResourceRefusedError, TokenRelayError, TransientError, describeError } from '../core/errors.ts';
import { redactor } from '../core/redact.ts';

const FIXES: Record<string, string> = {
  invalid_client: 'Check tokenrelay.clientId; for a client with a secret, the secret ("Token Relay: Set Client Secret" or "tokenrelay config set-client-secret") and tokenrelay.clientAuthMethod.',
  unauthorized_client: 'Allow this grant type (for a refresh: refresh_token) for tokenrelay.clientId at the identity provider.',
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
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    // An RFC 6750-style challenge in place of a JSON body: its error parameter is the server's word.
    const said = err.cause.find((c) => c.parameters.error)?.parameters;
    if (said?.error) return classifyOAuthError(new oauth.ResponseBodyError('challenge', { cause: { error: said.error, error_description: said.error_description }, response: err.response }), during);
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

/** OAuth errors that refuse the resource itself (RFC 8707 §2; Entra's AADSTS500011 is invalid_resource). */
const TARGET_ERRORS = new Set(['invalid_target', 'invalid_resource']);

/**
 * A refresh for `resource` refused because of that resource: invalid_target, or a plain server's
 * invalid_request / invalid_scope whose description names the resource. Undefined otherwise.
 */
export function resourceRefusal(err: unknown, resource: string, entra: boolean): ResourceRefusedError | undefined {
  if (!(err instanceof oauth.ResponseBodyError) || err.status >= 500) return undefined;
  const description = (err.error_description ?? '').toLowerCase();
  const namesResource = description.includes('resource') || description.includes(resource.toLowerCase());
  if (TARGET_ERRORS.has(err.error) || ((err.error === 'invalid_request' || err.error === 'invalid_scope') && namesResource)) {
    return new ResourceRefusedError(resource, serverSaid(err), entra);
  }
  return undefined;
}

/** How much of a non-OAuth answer's body a message quotes. */
const QUOTED_BYTES = 80;

/**
 * A 400 or 401 to a refresh without a readable RFC 6749 §5.2 error (glewlwyd answers a spent token
 * with an empty 400): the server refused that refresh token, so it is treated as `invalid_grant`.
 * Undefined for anything else, which `classifyOAuthError` handles.
 */
export async function refusalWithoutOAuthError(err: unknown): Promise<InvalidGrantError | undefined> {
  const response = err instanceof oauth.OperationProcessingError || err instanceof oauth.WWWAuthenticateChallengeError
    ? (err instanceof oauth.WWWAuthenticateChallengeError ? err.response : err.cause) : undefined;
  if (!(response instanceof Response) || (response.status !== 400 && response.status !== 401)) return undefined;
  if (err instanceof oauth.WWWAuthenticateChallengeError && err.cause.some((c) => c.parameters.error)) return undefined;
  return new InvalidGrantError(`${await describeAnswer(response)}, not an OAuth error answer; taken as a refusal of the refresh token`);
}

/**
 * A revocation that did not happen, as the user is told it: the server's answer (status, its OAuth
 * error or content type and first bytes) or why there was none (refused, timed out).
 */
export async function revocationFailed(err: unknown): Promise<TokenRelayError> {
  let answer: string;
  if (err instanceof oauth.ResponseBodyError) answer = `HTTP ${err.status} ${serverSaid(err)}`;
  else if ((err instanceof oauth.OperationProcessingError && err.cause instanceof Response) || err instanceof oauth.WWWAuthenticateChallengeError) {
    answer = await describeAnswer(err instanceof oauth.WWWAuthenticateChallengeError ? err.response : err.cause as Response);
  } else {
    const classified = classifyOAuthError(err, 'revocation');
    answer = classified instanceof TransientError ? classified.detail : classified.message;
  }
  return new TokenRelayError('idp-rejected', `The identity provider did not revoke the grant (${answer}).`);
}

/** "HTTP 400, no content type, empty body": a non-conforming answer as the user is told it, redacted. */
export async function describeAnswer(response: Response): Promise<string> {
  const type = response.headers.get('content-type');
  let body = '';
  try {
    if (!response.bodyUsed) body = await response.text();
  } catch { /* unreadable: described as empty */ }
  // Redacted whole, then cut: a cut through a token would leave a piece too short to recognise.
  const shown = redactor.redact(body.replace(/\s+/g, ' ').trim());
  const quoted = shown ? `body "${shown.slice(0, QUOTED_BYTES)}${shown.length > QUOTED_BYTES ? '…' : ''}"` : 'empty body';
  return `HTTP ${response.status}, ${type ? `content type "${redactor.redact(type.slice(0, QUOTED_BYTES))}"` : 'no content type'}, ${quoted}`;
}

/** The server's error code and description, with every token redacted. */
function serverSaid(err: { error: string; error_description?: string }): string {
  return redactor.redact(err.error_description ? `${err.error}: ${err.error_description}` : err.error);
}

function rejected(during: string, detail: string, code: string): TokenRelayError {
  return new TokenRelayError('idp-rejected', `The identity provider refused ${during} (${detail}).`,
    FIXES[code] ?? 'Check the tokenrelay settings against the identity provider.');
}
