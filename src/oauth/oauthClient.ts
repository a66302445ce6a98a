// The OAuth protocol for a native client (public, or with a secret from the key store), on
// oauth4webapi: token exchange, refresh, revocation, device authorization and account lookup. No
// protocol code is hand-rolled here. An id_token is required only when `openid` is asked for;
// without one, the account comes from userinfo, else from introspection, else it is the
// configuration's one anonymous account.
import * as oauth from 'oauth4webapi';
import type { Account, Clock, RefreshClient, SignedIn, TokenOrigin, TokenSet } from '../core/types.ts';
import { originChanged, sameOrigin } from '../core/tokenOrigin.ts';
import { systemClock } from '../core/types.ts';
import { TokenRelayError, TransientError } from '../core/errors.ts';
import { redactor } from '../core/redact.ts';
import { classifyOAuthError, refusalWithoutOAuthError, resourceRefusal, revocationFailed } from './errors.ts';
import { audienceParameters, isEntra } from './resourceIndicators.ts';
import { isInsecureAllowed, resolveServer, scopesFor, type OAuthConfig } from './serverConfig.ts';
import { freshConnectionFetch, nodeFetch } from './httpTransport.ts';
import { chooseAuthMethod, clientAuthFor, type ClientSecretSource } from './clientAuth.ts';

/** Used when a token response carries no expires_in: short enough that a server 401 is rarely needed. */
const DEFAULT_EXPIRES_IN_S = 300;

/**
 * The account of a server that names nobody (no id_token, userinfo or introspection): one per
 * configuration, so a new sign-in replaces it (and revokes its grant: see AccountRegistry.signIn).
 */
export const ANONYMOUS_ACCOUNT_ID = 'default';

export function isAnonymous(account: Account): boolean {
  return account.id === ANONYMOUS_ACCOUNT_ID;
}

export class OAuthClient implements RefreshClient {
  private server: Promise<oauth.AuthorizationServer> | undefined;
  private discovered: oauth.AuthorizationServer | undefined;
  readonly client: oauth.Client;
  /** The client secret as last read (a promise, so concurrent requests read it once); forgotten after invalid_client. */
  private secret: Promise<string | undefined> | undefined;

  constructor(readonly config: OAuthConfig, private readonly clock: Clock = systemClock, private readonly secrets?: ClientSecretSource) {
    this.client = { client_id: config.clientId };
  }

  /** The client authentication for a request to `server` (a public client: only client_id). */
  private async auth(server: oauth.AuthorizationServer): Promise<oauth.ClientAuth> {
    const configured = this.config.clientAuthMethod;
    if (!this.secrets || configured === 'none') return clientAuthFor(configured && configured !== 'auto' ? configured : 'none', undefined);
    this.secret ??= this.secrets().catch(() => undefined);
    const secret = await this.secret;
    return clientAuthFor(chooseAuthMethod(configured, server, !!secret), secret);
  }

  /** A new secret was stored (or the server refused the client): read it again on the next request. */
  forgetSecret(): void {
    this.secret = undefined;
  }

  /** Client authentication refused: the secret may have changed in another process since it was read. */
  private refusedClient(err: unknown): void {
    if ((err instanceof oauth.ResponseBodyError && err.error === 'invalid_client') || (err instanceof oauth.WWWAuthenticateChallengeError && err.status === 401)) this.forgetSecret();
  }

  /** Discovery is cached; a failed attempt is forgotten so the next call retries. */
  authorizationServer(): Promise<oauth.AuthorizationServer> {
    this.server ??= resolveServer(this.config).then(
      (server) => (this.discovered = server),
      (err) => { this.server = undefined; throw err; });
    return this.server;
  }

  /** Warm-up: discovery, and the client secret (a key store read) off the first refresh's path. */
  async prepare(): Promise<void> {
    if (this.secrets) this.secret ??= this.secrets().catch(() => undefined);
    await Promise.all([this.authorizationServer(), this.secret]);
  }

  /** The scopes sign-in asks for at this server (the defaults drop `openid` at a plain OAuth 2.0 server). */
  async scopes(): Promise<string[]> {
    return scopesFor(this.config, await this.authorizationServer());
  }

  /** The same without I/O: the configured scopes until discovery has said what the server speaks. */
  knownScopes(): string[] {
    return this.discovered ? scopesFor(this.config, this.discovered) : this.config.scopes;
  }

  requestOptions(server: oauth.AuthorizationServer, signal?: AbortSignal, freshConnection = false) {
    const url = new URL(server.token_endpoint ?? server.issuer);
    return {
      signal: signal ?? AbortSignal.timeout(15_000),
      [oauth.allowInsecureRequests]: isInsecureAllowed(url),
      [oauth.customFetch]: freshConnection ? freshConnectionFetch : nodeFetch,
      additionalParameters: (this.config.resource ? { resource: this.config.resource } : undefined) as Record<string, string> | undefined,
    };
  }

  readonly callsBeforeSend = true;

  /** A refresh without a resource asks for this one (tokenrelay.resource). */
  get defaultResource(): string | undefined {
    return this.config.resource;
  }

  /** The token endpoint, issuer and client a grant obtained now comes from (tokenOrigin.ts). */
  originAt(server: oauth.AuthorizationServer): TokenOrigin {
    return { tokenEndpoint: server.token_endpoint ?? server.issuer, issuer: server.issuer, clientId: this.client.client_id };
  }

  /** Where a refresh would go under this configuration; a discovery that failed never carried a token. */
  async origin(): Promise<TokenOrigin> {
    return this.originAt(await this.unspentDiscovery());
  }

  private unspentDiscovery(): Promise<oauth.AuthorizationServer> {
    return this.authorizationServer().catch((err: unknown) => {
      throw err instanceof TransientError && err.mayHaveReachedServer ? new TransientError(err.detail, false) : err;
    });
  }

  /**
   * Presents the refresh token to `to` (the origin recorded with it), only while this configuration
   * still names that origin; without `to` (tests, baselines), to this configuration's endpoint.
   */
  async refresh(refreshToken: string, signal: AbortSignal, to?: TokenOrigin, beforeSend?: () => void, resource?: string): Promise<TokenSet> {
    redactor.remember(refreshToken); // the server may echo it in an error
    // A discovery that failed, even by timing out, never carried the refresh token: it is unspent.
    const configured = await this.unspentDiscovery();
    if (to && !sameOrigin(to, this.originAt(configured))) throw originChanged(to, this.originAt(configured));
    const server: oauth.AuthorizationServer = to ? { ...configured, token_endpoint: to.tokenEndpoint } : configured;
    // beforeSend runs inside customFetch, before the transport creates the request (and its socket):
    // nothing carrying the token exists yet. What it throws is rethrown as is: nothing was sent.
    let unsent: { err: unknown } | undefined;
    const options = this.requestOptions(server, signal, true);
    // RFC 8707 §2.2: another audience from the same grant (Entra: as its scope; resourceIndicators.ts).
    if (resource !== undefined) options.additionalParameters = audienceParameters(configured.issuer, resource, this.knownScopes());
    const send = options[oauth.customFetch];
    options[oauth.customFetch] = (url, init) => {
      try {
        beforeSend?.();
      } catch (err) {
        unsent = { err };
        throw err;
      }
      return send(url, init);
    };
    try {
      const sentAt = this.clock.now();
      const response = await oauth.refreshTokenGrantRequest(server, this.client, await this.auth(server), refreshToken, options);
      const receivedAt = this.clock.now();
      return this.toTokenSet(await oauth.processRefreshTokenResponse(server, this.client, response), sentAt, receivedAt);
    } catch (err) {
      if (unsent) throw unsent.err;
      this.refusedClient(err);
      const refused = resource === undefined ? undefined : resourceRefusal(err, resource, isEntra(configured.issuer));
      throw refused ?? (await refusalWithoutOAuthError(err)) ?? classifyOAuthError(err, 'the token refresh');
    }
  }

  async revoke(token: string, hint: 'refresh_token' | 'access_token', signal: AbortSignal): Promise<void> {
    redactor.remember(token);
    const server = await this.authorizationServer();
    if (!server.revocation_endpoint) return; // nothing to call; the token is deleted locally
    try {
      const response = await oauth.revocationRequest(server, this.client, await this.auth(server), token,
        { ...this.requestOptions(server, signal), additionalParameters: { token_type_hint: hint } });
      await oauth.processRevocationResponse(response);
    } catch (err) {
      this.refusedClient(err);
      throw await revocationFailed(err);
    }
  }

  async exchangeCode(callback: URL, state: string, verifier: string, redirectUri: string, nonce?: string): Promise<SignedIn> {
    const server = await this.authorizationServer();
    try {
      const params = validateIssuer(server, callback, () => oauth.validateAuthResponse(server, this.client, callback, state));
      const sentAt = this.clock.now();
      const response = await oauth.authorizationCodeGrantRequest(server, this.client, await this.auth(server), params, redirectUri, verifier, this.requestOptions(server));
      const receivedAt = this.clock.now();
      const result = await oauth.processAuthorizationCodeResponse(server, this.client, response, { expectedNonce: nonce ?? oauth.expectNoNonce })
        .catch((err) => { throw nonce && missesIdToken(err) ? noIdToken() : err; });
      return this.signedIn(server, result, sentAt, receivedAt);
    } catch (err) {
      this.refusedClient(err);
      throw classifyOAuthError(err, 'sign-in');
    }
  }

  async startDeviceAuthorization(signal?: AbortSignal): Promise<oauth.DeviceAuthorizationResponse> {
    const server = await this.authorizationServer();
    if (!server.device_authorization_endpoint) {
      throw new TokenRelayError('config', 'The identity provider offers no device authorization endpoint.',
        'Set tokenrelay.signInFlow to "loopback", or tokenrelay.endpoints.deviceAuthorization.');
    }
    try {
      const params: Record<string, string> = { scope: scopesFor(this.config, server).join(' ') };
      if (this.config.resource) params.resource = this.config.resource;
      const response = await oauth.deviceAuthorizationRequest(server, this.client, await this.auth(server), params, this.requestOptions(server, signal));
      return await oauth.processDeviceAuthorizationResponse(server, this.client, response);
    } catch (err) {
      this.refusedClient(err);
      throw classifyOAuthError(err, 'device sign-in');
    }
  }

  /** One poll; `pending` / `slow_down` come back as values, everything else throws. */
  async pollDeviceCode(deviceCode: string, signal?: AbortSignal): Promise<SignedIn | 'pending' | 'slow_down'> {
    const server = await this.authorizationServer();
    try {
      const sentAt = this.clock.now();
      const response = await oauth.deviceCodeGrantRequest(server, this.client, await this.auth(server), deviceCode, this.requestOptions(server, signal));
      const receivedAt = this.clock.now();
      return await this.signedIn(server, await oauth.processDeviceCodeResponse(server, this.client, response), sentAt, receivedAt);
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError && (err.error === 'authorization_pending' || err.error === 'slow_down')) {
        return err.error === 'slow_down' ? 'slow_down' : 'pending';
      }
      this.refusedClient(err);
      throw classifyOAuthError(err, 'device sign-in');
    }
  }

  private async signedIn(server: oauth.AuthorizationServer, result: oauth.TokenEndpointResponse, sentAt: number, receivedAt: number): Promise<SignedIn> {
    const tokens = this.toTokenSet(result, sentAt, receivedAt);
    return { tokens, account: await this.accountOf(server, result), origin: this.originAt(server) };
  }

  /** The id_token's subject, else userinfo's, else introspection's; else the anonymous account. */
  private async accountOf(server: oauth.AuthorizationServer, result: oauth.TokenEndpointResponse): Promise<Account> {
    const claims = oauth.getValidatedIdTokenClaims(result);
    if (claims) return accountFrom(claims)!;
    const options = this.requestOptions(server);
    const lookups = [
      server.userinfo_endpoint && (async () => oauth.processUserInfoResponse(server, this.client, oauth.skipSubjectCheck,
        await oauth.userInfoRequest(server, this.client, result.access_token, options))),
      server.introspection_endpoint && (async () => oauth.processIntrospectionResponse(server, this.client,
        await oauth.introspectionRequest(server, this.client, await this.auth(server), result.access_token, { ...options, additionalParameters: { token_type_hint: 'access_token' } }))),
    ];
    for (const lookup of lookups) {
      if (!lookup) continue;
      // The account name is cosmetic, but it decides the slot: a failed lookup tries the next one.
      const account = await lookup().then(accountFrom, () => undefined);
      if (account) return account;
    }
    return { id: ANONYMOUS_ACCOUNT_ID, label: `Signed in at ${new URL(server.issuer).host}` };
  }

  /**
   * Expiry counts from when the request was sent (the server dated it no earlier), less 1 s because
   * servers date `exp` in whole seconds (P8); never from the server's clock.
   */
  private toTokenSet(r: oauth.TokenEndpointResponse, sentAt: number, receivedAt: number): TokenSet {
    redactor.remember(r.access_token, r.refresh_token, r.id_token);
    const expiresIn = typeof r.expires_in === 'number' && r.expires_in > 0 ? r.expires_in : DEFAULT_EXPIRES_IN_S;
    return {
      accessToken: r.access_token,
      refreshToken: r.refresh_token,
      idToken: r.id_token,
      tokenType: String(r.token_type ?? 'bearer'),
      scope: r.scope,
      obtainedAt: sentAt,
      expiresAt: sentAt + Math.max(expiresIn - 1, expiresIn / 2) * 1000,
      roundTripMs: Math.max(0, receivedAt - sentAt),
    };
  }
}

function labelOf(claims: Record<string, unknown>): string | undefined {
  for (const key of ['preferred_username', 'email', 'name', 'username']) {
    if (typeof claims[key] === 'string' && claims[key]) return claims[key] as string;
  }
  return undefined;
}

/** From id_token, userinfo or active introspection claims; undefined when they name nobody. */
function accountFrom(claims: Record<string, unknown>): Account | undefined {
  if (claims.active === false) return undefined;
  const id = typeof claims.sub === 'string' && claims.sub ? claims.sub : typeof claims.username === 'string' && claims.username ? claims.username : undefined;
  return id === undefined ? undefined : { id, label: labelOf(claims) ?? id };
}

function noIdToken(): TokenRelayError {
  return new TokenRelayError('protocol',
    'The identity provider answered the sign-in without an id_token, although tokenrelay.scopes includes "openid".',
    'Remove "openid" from tokenrelay.scopes: this server speaks plain OAuth 2.0, not OpenID Connect.');
}

function missesIdToken(err: unknown): boolean {
  return err instanceof oauth.OperationProcessingError && /"response" body "id_token" property must/.test(err.message);
}

/**
 * RFC 9207: a callback's `iss` must be the issuer. Without tokenrelay.issuer the issuer is only
 * guessed (the token endpoint's origin), so a mismatch names the value to configure.
 */
function validateIssuer(server: oauth.AuthorizationServer, callback: URL, validate: () => URLSearchParams): URLSearchParams {
  try {
    return validate();
  } catch (err) {
    const sent = callback.searchParams.get('iss');
    if (!(err instanceof oauth.OperationProcessingError) || sent === null || sent === server.issuer) throw err;
    const iss = redactor.redact(sent.slice(0, 200)); // it came from the browser: shown, never trusted
    throw new TokenRelayError('config', `The identity provider identified itself as "${iss}" in its sign-in answer, but the issuer Token Relay expects is "${server.issuer}".`,
      `If "${iss}" is your identity provider, set tokenrelay.issuer to exactly that value; otherwise check tokenrelay.endpoints.authorization.`);
  }
}
