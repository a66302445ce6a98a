// startPlainServer(): a plain OAuth 2.0 authorization server on @node-oauth/oauth2-server, the
// second, independent test server. No discovery, no id_token, no userinfo: authorization code with
// PKCE S256 only, refresh rotation with family revocation on reuse (model.ts), RFC 7009 revocation,
// RFC 7662 introspection (the public client for its own tokens, the API's introspector for any).
// It implements test/idp's `Idp` interface, so tests, the control plane and the API are shared.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import OAuth2Server, { OAuthError, Request, Response } from '@node-oauth/oauth2-server';
import type { Endpoints } from '../../src/oauth/serverConfig.ts';
import { startApi } from '../idp/api.ts';
import { CLIENT_ID, INTROSPECTOR_ID } from '../idp/config.ts';
import { CounterStore, type CounterName, type Counters } from '../idp/counters.ts';
import { FaultableServer } from '../idp/faults.ts';
import { sharedHandle } from '../idp/handle.ts';
import type { Idp } from '../idp/server.ts';
import type { Introspection } from '../idp/introspection.ts';
import { PlainModel } from './model.ts';

export interface PlainCounters extends Counters {
  /** Spent refresh tokens presented again (each revoked its family). */
  reuseDetections: number;
  /** RFC 7009 requests that revoked a grant or an access token. */
  revocationRequests: number;
}

export interface PlainServerOptions {
  /** Seconds; default 60. */
  accessTokenTtl?: number;
  logger?: (line: string) => void;
  /** The user the authorization endpoint approves without a page (default `test-user`); `login=` in the request overrides it. */
  login?: string;
  /**
   * RFC 8707: the resources a token request may name. Unset, `resource` is ignored (as the library
   * does); set, any other is answered invalid_target before the grant runs, so nothing is rotated.
   */
  resources?: string[];
}

export interface PlainServer extends Idp {
  counters(): PlainCounters;
  /** What a client configures: no discovery exists. */
  endpoints: Required<Pick<Endpoints, 'authorization' | 'token' | 'revocation'>> & { introspection: string };
  /** Scopes it grants; it would also accept `openid` and issue no id_token. */
  scopes: string[];
  setLogin(login: string): void;
}

/** The issuer has a path, as RFC 9207 `iss` values often do (Okta, Keycloak realms). */
const ISSUER_PATH = '/oauth2';
const PATHS = { authorization: `${ISSUER_PATH}/authorize`, token: '/token', revocation: `${ISSUER_PATH}/revoke`, introspection: '/token/introspection' };
const GRANT_COUNTERS: Record<string, CounterName> = { refresh_token: 'refreshGrants', authorization_code: 'authorizationCodeGrants' };

async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return Object.fromEntries(new URLSearchParams(text));
}

function plainHeaders(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(text);
}

export async function startPlainServer(opts: PlainServerOptions = {}): Promise<PlainServer> {
  const log = opts.logger ?? (() => {});
  let ttl = opts.accessTokenTtl ?? 60;
  let login = opts.login ?? 'test-user';
  const counters = new CounterStore();
  const extra = { reuseDetections: 0, revocationRequests: 0 };
  const introspector = { id: INTROSPECTOR_ID, secret: randomBytes(24).toString('base64url') };
  const model = new PlainModel({ id: CLIENT_ID, grants: ['authorization_code', 'refresh_token'], redirectUris: ['http://127.0.0.1/callback'] }, {
    reuse: (family) => { extra.reuseDetections += 1; log(`refresh token reuse in the family of ${family.user}`); },
    familyRevoked: (family, why) => { counters.bump('grantRevocations'); log(`grant of ${family.user} revoked: ${why}`); },
  });
  const oauth = new OAuth2Server({ model, allowBearerTokensInQueryString: false });

  const web = new FaultableServer(log);
  web.onFaultAnswer = () => counters.bump('faultAnswers');
  const port = await web.listen(0);
  const origin = `http://127.0.0.1:${port}`;
  const issuer = origin + ISSUER_PATH;

  async function authorize(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const query = Object.fromEntries(url.searchParams);
    const request = new Request({ method: 'GET', headers: plainHeaders(req), query, body: {} });
    const response = new Response();
    const redirect = () => res.writeHead(302, { location: String(response.get('location')) }).end();
    // PKCE S256 is required; without a valid client and redirect there is nowhere to send an error.
    if (query.code_challenge_method !== 'S256' || !query.code_challenge) {
      const to = new URL(query.redirect_uri ?? '');
      to.searchParams.set('error', 'invalid_request');
      to.searchParams.set('error_description', 'PKCE with S256 is required');
      if (query.state) to.searchParams.set('state', query.state);
      return void res.writeHead(302, { location: to.href }).end();
    }
    try {
      await oauth.authorize(request, response, { authenticateHandler: { handle: () => ({ id: query.login || login }) } });
      const location = new URL(String(response.get('location')));
      location.searchParams.set('iss', issuer); // RFC 9207
      response.set('location', location.href);
      redirect();
    } catch (err) {
      log(`authorize failed: ${(err as Error).message}`);
      if (response.get('location')) redirect();
      else send(res, (err as OAuthError).code ?? 400, { error: (err as OAuthError).name ?? 'invalid_request', error_description: (err as Error).message });
    }
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readForm(req);
    if (opts.resources && body.resource !== undefined && !opts.resources.includes(body.resource)) {
      counters.error('invalid_target');
      log(`grant ${body.grant_type} refused: unknown resource`);
      return send(res, 400, { error: 'invalid_target', error_description: 'unknown resource' });
    }
    const request = new Request({ method: 'POST', headers: plainHeaders(req), query: {}, body });
    const response = new Response();
    try {
      const issued = await oauth.token(request, response, {
        requireClientAuthentication: { authorization_code: false, refresh_token: false },
        accessTokenLifetime: ttl,
      });
      const counter = GRANT_COUNTERS[body.grant_type ?? ''];
      if (counter) counters.bump(counter);
      counters.recordIssued(issued.accessToken, issued.refreshToken);
      log(`grant ${body.grant_type}`);
    } catch (err) {
      counters.error((err as Error).message);
      log(`grant ${body.grant_type} failed: ${(err as Error).message}`);
    }
    send(res, response.status ?? 200, response.body, { 'cache-control': 'no-store' });
  }

  /** RFC 7009: always 200 for a known client, whether or not the token existed. */
  async function revoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readForm(req);
    if (body.client_id !== CLIENT_ID) return send(res, 401, { error: 'invalid_client' });
    if (body.token && model.revoke(body.token, CLIENT_ID)) extra.revocationRequests += 1;
    send(res, 200, '');
  }

  /** RFC 7662, for the public client (only its own tokens) and for the API's introspector. */
  async function introspect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readForm(req);
    const asIntrospector = isIntrospector(req.headers.authorization);
    if (!asIntrospector && body.client_id !== CLIENT_ID) return send(res, 401, { error: 'invalid_client' });
    const stored = body.token ? model.live(body.token) : undefined;
    if (!stored || (!asIntrospector && stored.clientId !== body.client_id)) return send(res, 200, { active: false });
    send(res, 200, {
      active: true, sub: stored.user.id, username: stored.user.id, client_id: stored.clientId, scope: stored.scope.join(' '),
      exp: Math.floor(stored.expiresAt / 1000), ...(stored.kind === 'access' ? { token_type: 'Bearer' } : {}),
    } satisfies Introspection);
  }

  function isIntrospector(header: string | undefined): boolean {
    const expected = Buffer.from(`Basic ${Buffer.from(`${introspector.id}:${introspector.secret}`).toString('base64')}`);
    const got = Buffer.from(header ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  }

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>> = {
    [`GET ${PATHS.authorization}`]: authorize,
    [`POST ${PATHS.token}`]: token,
    [`POST ${PATHS.revocation}`]: revoke,
    [`POST ${PATHS.introspection}`]: introspect,
  };
  web.handler = (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const route = routes[`${req.method} ${url.pathname}`];
    if (!route) {
      log(`404 ${req.method} ${url.pathname}`); // no discovery document, no userinfo
      return send(res, 404, { error: 'not_found' });
    }
    route(req, res, url).catch((err: Error) => {
      log(`500 ${url.pathname}: ${err.message}`);
      if (!res.headersSent) send(res, 500, { error: 'server_error' });
    });
  };
  const api = await startApi({ provider: web.handler, introspector, counters, log });
  log(`plain OAuth 2.0 server listening issuer=${issuer} api=${api.apiUrl}`);

  return {
    issuer,
    clientId: CLIENT_ID,
    apiUrl: api.apiUrl,
    port,
    endpoints: Object.fromEntries(Object.entries(PATHS).map(([k, p]) => [k, origin + p])) as PlainServer['endpoints'],
    scopes: ['offline_access', 'api:read'],
    counters: () => ({ ...counters.snapshot(), ...extra }),
    resetCounters: () => { counters.reset(); extra.reuseDetections = 0; extra.revocationRequests = 0; },
    issuedTokens: () => counters.issuedTokens(),
    setAccessTokenTtl: (seconds) => { ttl = seconds; },
    setReuseGraceSeconds: (seconds) => { if (seconds !== 0) throw new RangeError('the plain OAuth 2.0 server is strict only'); },
    reuseGraceSeconds: () => 0,
    setLogin: (user) => { login = user; },
    ...sharedHandle({ web, api, counters, revokeAccessToken: (value) => model.dropAccessToken(value), log, name: 'plain OAuth 2.0 server' }),
  };
}
