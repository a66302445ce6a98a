// Before the browser opens: the authorization request is sent once from here, redirects not followed
// and cookies not kept. A server that finds the client or the redirect URI invalid must not redirect
// (RFC 6749 §4.1.2.1): it shows the user an error page, and VS Code would wait for a redirect that
// never comes. An answer that names an OAuth error ends the sign-in at once, naming the setting to
// fix. Anything else (a login page, a redirect to one, a server error, no answer) lets it go on:
// the preflight may only ever stop a sign-in that could not have worked.
import { TokenRelayError } from '../core/errors.ts';
import { redactor } from '../core/redact.ts';
import { nodeFetch } from './httpTransport.ts';

/** The OAuth error codes an authorization endpoint uses, and the setting each points at. */
const CAUSES: Array<{ code: RegExp; fix: string }> = [
  { code: /\binvalid_client\b|\bclient[_ ]id\b.{0,40}\b(invalid|unknown|not found)/i, fix: 'Check tokenrelay.clientId: the identity provider does not know this client (register a public client, or copy its id again).' },
  { code: /\bunauthorized_client\b/i, fix: 'Check tokenrelay.clientId and the client\'s grants at the identity provider: it must allow the authorization code grant.' },
  { code: /\binvalid_redirect_uri\b|\bredirect_uri_mismatch\b|\bredirect[_ ]uri\b[^<]{0,60}\b(invalid|mismatch|not (registered|allowed|valid))/i, fix: 'Register the redirect URI http://127.0.0.1/callback (any port) for the client, or set tokenrelay.redirectUri to the one registered; or use device code.' },
  { code: /\binvalid_scope\b/i, fix: 'Check tokenrelay.scopes: the identity provider does not offer one of them to this client.' },
  { code: /\binvalid_target\b/i, fix: 'Check tokenrelay.resource: the identity provider does not accept that resource.' },
  { code: /\bunsupported_response_type\b|\binvalid_request\b/i, fix: 'Check tokenrelay.issuer, tokenrelay.clientId and the client\'s settings at the identity provider.' },
];

const PREFLIGHT_TIMEOUT_MS = 5_000;
/** Enough of an error page to find its error code; the rest is never read. */
const BODY_CHARS = 4_096;

/** Undefined when the sign-in may go on; otherwise the error to end it with. */
export async function preflightAuthorization(authorizationUrl: string, redirectUri: string): Promise<TokenRelayError | undefined> {
  let response: Response;
  try {
    response = await nodeFetch(authorizationUrl, {
      method: 'GET', body: undefined, headers: { accept: 'text/html,application/json' }, redirect: 'manual', signal: AbortSignal.timeout(PREFLIGHT_TIMEOUT_MS),
    });
  } catch {
    return undefined; // unreachable from here is not proof: the browser may use another route (a proxy)
  }
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location) return fromErrorRedirect(location, redirectUri);
  if (response.status !== 400 && response.status !== 401 && response.status !== 403) return undefined;
  const body = (await response.text().catch(() => '')).slice(0, BODY_CHARS);
  const cause = CAUSES.find((c) => c.code.test(body));
  if (!cause) return undefined;
  return new TokenRelayError('idp-rejected',
    `The identity provider refused the sign-in request (HTTP ${response.status}: ${describeBody(body)}).`, cause.fix);
}

/** A redirect straight back to us carrying `error=`: the server refused before any login. */
function fromErrorRedirect(location: string, redirectUri: string): TokenRelayError | undefined {
  let target: URL;
  try {
    target = new URL(location, redirectUri);
  } catch {
    return undefined;
  }
  const back = new URL(redirectUri);
  const error = target.searchParams.get('error');
  if (target.origin !== back.origin || target.pathname !== back.pathname || !error || error === 'login_required' || error === 'interaction_required') return undefined;
  const description = target.searchParams.get('error_description');
  const said = redactor.redact(description ? `${error}: ${description}` : error);
  const cause = CAUSES.find((c) => c.code.test(error));
  return new TokenRelayError('idp-rejected', `The identity provider refused the sign-in request (${said}).`,
    cause?.fix ?? (error === 'access_denied' ? 'The identity provider denied access to this client; ask its administrator.' : 'Check the tokenrelay settings against the identity provider.'));
}

/** The page's own words, briefly: its title, or its first text, redacted. */
function describeBody(body: string): string {
  const code = CAUSES.map((c) => c.code.exec(body)?.[0]).find(Boolean);
  const title = /<title[^>]*>([^<]{1,120})<\/title>/i.exec(body)?.[1]?.trim();
  const text = (title || body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim()).slice(0, 120);
  return redactor.redact(code && !text.includes(code) ? `${code}, "${text}"` : text || 'an error page');
}
