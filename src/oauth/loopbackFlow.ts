// RFC 8252 sign-in: PKCE S256, a redirect to 127.0.0.1 on an ephemeral port (or exactly at
// tokenrelay.redirectUri, for servers that match it port included) that listens only for the
// duration of this sign-in, a state check, a timeout and cancellation. Only the browser's
// redirect for this sign-in ends the wait (RFC 9700 §4.7): any other request gets a bare 400, so a
// blind cross-site request cannot abort the sign-in and a rebound page cannot deliver its own code.
import type { IncomingMessage } from 'node:http';
import * as oauth from 'oauth4webapi';
import type { SignedIn } from '../core/types.ts';
import { TokenRelayError } from '../core/errors.ts';
import { redactor } from '../core/redact.ts';
import type { OAuthClient } from './oauthClient.ts';
import { answerHtml, answerPlain, hostIsOneOf, listenOnLoopback, requestUrl, sameSecret } from './loopbackServer.ts';
import { preflightAuthorization } from './authorizationPreflight.ts';
import { parseRedirectUri, type FixedRedirect } from './redirectUri.ts';

export interface LoopbackOptions {
  /** Opens the authorization URL in the user's browser. */
  openBrowser(url: string): Promise<void> | void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Extra authorization parameters (e.g. login_hint). */
  extraParams?: Record<string, string>;
}

/** The last page the browser shows: plain, readable in light and dark, no script, nothing loaded. */
const page = (title: string, body: string) => `<!doctype html><meta charset="utf-8"><meta name="color-scheme" content="light dark">
<title>Token Relay</title>
<style>body{font:16px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0}
main{max-width:32em;padding:2em 2.5em;border:1px solid #8884;border-radius:12px}h1{font-size:1.4em;margin:0 0 .5em}
.key{font-size:2em}</style>
<main><div class="key" aria-hidden="true">&#128273;</div><h1>${title}</h1>${body}</main>`;
const DONE_PAGE = (account: string) => page('Signed in to Token Relay',
  `<p>You are signed in as <strong>${escapeHtml(account)}</strong>.</p><p>You can close this tab and return to VS Code or your terminal.</p>`);
const FAILED_PAGE = (why: string) => page('Sign-in did not complete', `<p>${escapeHtml(why)}</p><p>Return to VS Code or your terminal to try again.</p>`);

export async function signInWithLoopback(client: OAuthClient, options: LoopbackOptions): Promise<SignedIn> {
  const server = await client.authorizationServer();
  if (!server.authorization_endpoint) {
    throw new TokenRelayError('config', 'The identity provider has no authorization endpoint.',
      'Set tokenrelay.endpoints.authorization, or use tokenrelay.signInFlow "deviceCode".');
  }
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const scopes = await client.scopes(); // an id_token (and its nonce) only when `openid` is asked for
  const wantsOidc = scopes.includes('openid');
  const nonce = wantsOidc ? oauth.generateRandomNonce() : undefined;
  const fixed = client.config.redirectUri ? parseRedirectUri(client.config.redirectUri) : undefined;
  const listener = await listenForCallback(state, fixed);
  const redirectUri = fixed?.uri ?? `http://127.0.0.1:${listener.port}/callback`;
  try {
    const url = new URL(server.authorization_endpoint);
    const params: Record<string, string> = {
      client_id: client.config.clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: scopes.join(' '),
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...(nonce ? { nonce } : {}),
      // Without consent, many servers (oidc-provider among them) silently drop offline_access.
      ...(scopes.includes('offline_access') ? { prompt: 'consent' } : {}),
      ...(client.config.resource ? { resource: client.config.resource } : {}),
      ...options.extraParams,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    // A client or redirect the server refuses outright gets an error page, not a redirect: say so now.
    const refused = await preflightAuthorization(url.href, redirectUri);
    if (refused) throw refused;
    // Opening the browser can fail; that ends the wait for its redirect (and the wait's timer) too.
    const opening = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, opening.signal]) : opening.signal;
    const callback = listener.nextCallback(signal, options.timeoutMs ?? 5 * 60_000);
    // The browser may only finish after we answer its redirect, so opening it is not awaited alone.
    const openFailed = Promise.resolve().then(() => options.openBrowser(url.href))
      .then(() => new Promise<never>(() => undefined), (err) => { opening.abort(); throw err; });
    const { url: callbackUrl, respond } = await Promise.race([callback, openFailed]);
    try {
      const result = await client.exchangeCode(callbackUrl, state, verifier, redirectUri, nonce);
      respond(200, DONE_PAGE(result.account.label));
      return result;
    } catch (err) {
      respond(400, FAILED_PAGE(redactor.redact((err as Error).message)));
      throw err;
    }
  } finally {
    await listener.close();
  }
}

interface Callback {
  url: URL;
  respond(status: number, html: string): void;
}

/** The browser's redirect for this sign-in: `GET <path>` for the listener's own Host with its `state`, once. */
function redirectOfThisSignIn(req: IncomingMessage, authorities: readonly string[], path: string, state: string): URL | undefined {
  if (req.method !== 'GET' || !hostIsOneOf(req, authorities)) return undefined;
  const url = requestUrl(req, authorities[0]!);
  const states = url?.searchParams.getAll('state') ?? [];
  return url?.pathname === path && states.length === 1 && sameSecret(states[0], state) ? url : undefined;
}

async function listenForCallback(state: string, fixed: FixedRedirect | undefined) {
  let onCallback: ((cb: Callback) => void) | undefined;
  const server = await listenOnLoopback((req, res) => {
    const deliver = onCallback;
    const url = deliver && redirectOfThisSignIn(req, server.authorities, fixed?.path ?? '/callback', state);
    if (!deliver || !url) {
      // Not this sign-in's redirect (a probe, a forged or a late one): refuse it and keep waiting.
      answerPlain(res, 400, 'Bad request.');
      return;
    }
    onCallback = undefined;
    deliver({ url, respond: (status, html) => answerHtml(res, status, html) });
  }, fixed).catch((err: NodeJS.ErrnoException) => { throw fixed ? portUnavailable(fixed, err) : err; });
  return {
    port: server.port,
    nextCallback(signal: AbortSignal | undefined, timeoutMs: number): Promise<Callback> {
      return new Promise<Callback>((resolve, reject) => {
        const timer = setTimeout(() => fail(new TokenRelayError('timeout', 'Sign-in timed out waiting for the browser.', 'Start sign-in again.')), timeoutMs);
        const abort = () => fail(new TokenRelayError('cancelled', 'Sign-in was cancelled.'));
        signal?.addEventListener('abort', abort, { once: true });
        if (signal?.aborted) abort();
        function fail(err: Error) { cleanup(); reject(err); }
        function cleanup() { clearTimeout(timer); signal?.removeEventListener('abort', abort); onCallback = undefined; }
        onCallback = (cb) => { cleanup(); resolve(cb); };
      });
    },
    close: () => server.close(),
  };
}

/** The fixed redirect's port cannot be listened on: say which, why, and what else works. */
function portUnavailable(fixed: FixedRedirect, err: NodeJS.ErrnoException): TokenRelayError {
  const why = err.code === 'EADDRINUSE' ? 'is in use by another program (or another sign-in)'
    : err.code === 'EACCES' ? 'may not be listened on by your user (ports below 1024 need privileges)' : `cannot be listened on (${err.code ?? err.message})`;
  return new TokenRelayError('config', `Port ${fixed.port} of tokenrelay.redirectUri (${fixed.uri}) ${why}, so the browser sign-in cannot receive its answer.`,
    'Free the port and try again, or sign in with a device code instead (in a terminal: tokenrelay sign-in --device); '
    + 'changing tokenrelay.redirectUri needs the same change in the client\'s registration at the identity provider.');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
