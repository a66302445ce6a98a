// Where the identity provider is: OIDC/OAuth discovery from an issuer, or explicit endpoints.
import * as oauth from 'oauth4webapi';
import { TokenRelayError } from '../core/errors.ts';
import { classifyOAuthError } from './errors.ts';
import { nodeFetch } from './httpTransport.ts';
import { isLoopbackHost } from './loopbackHost.ts';
import type { ClientAuthMethod } from './clientAuth.ts';

export interface Endpoints {
  authorization?: string;
  token: string;
  deviceAuthorization?: string;
  revocation?: string;
  userinfo?: string;
  /** RFC 7662, for the account name when neither an id_token nor userinfo is available. */
  introspection?: string;
}

export interface OAuthConfig {
  issuer?: string;
  endpoints?: Endpoints;
  clientId: string;
  scopes: string[];
  /**
   * The scopes are the defaults, not the user's list: then `openid` and `profile` are asked for
   * only from a server that speaks OpenID Connect (see scopesFor).
   */
  defaultScopes?: boolean;
  /** RFC 8707 resource / audience sent with token requests. */
  resource?: string;
  /** tokenrelay.redirectUri (validated by parseRedirectUri): the loopback sign-in listens exactly there. */
  redirectUri?: string;
  /** tokenrelay.clientAuthMethod; unset = auto (see clientAuth.ts). The secret is never here: it is in the key store. */
  clientAuthMethod?: ClientAuthMethod;
}

/** Plain http is accepted only on this machine's loopback (a local or test identity provider). */
export function isInsecureAllowed(url: URL): boolean {
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

export function parseEndpointUrl(value: string, setting: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TokenRelayError('config', `${setting} is not a valid URL ("${value}").`,
      `Set ${setting} to an https URL, for example https://login.example.com/realms/dev.`);
  }
  if (url.protocol !== 'https:' && !isInsecureAllowed(url)) {
    throw new TokenRelayError('config', `${setting} must use https (got ${url.protocol}//${url.host}).`,
      `Use the https URL of your identity provider; plain http is only accepted for 127.0.0.1 or localhost.`);
  }
  return url;
}

export function validateConfig(config: OAuthConfig): void {
  if (!config.clientId?.trim()) {
    throw new TokenRelayError('config', 'tokenrelay.clientId is not set.', 'Set it to the client id registered at your identity provider.');
  }
  if (!config.issuer && !config.endpoints?.token) {
    throw new TokenRelayError('config', 'Neither tokenrelay.issuer nor tokenrelay.endpoints.token is set.',
      'Set tokenrelay.issuer to your identity provider (OIDC discovery), or tokenrelay.endpoints for servers without discovery.');
  }
  if (config.issuer) parseEndpointUrl(config.issuer, 'tokenrelay.issuer');
  for (const [name, value] of Object.entries(config.endpoints ?? {})) {
    if (value) parseEndpointUrl(value, `tokenrelay.endpoints.${name}`);
  }
}

/** An issuer and a token endpoint together name everything: nothing is discovered. */
export function skipsDiscovery(config: OAuthConfig): boolean {
  return !config.issuer || !!config.endpoints?.token;
}

/** OIDC discovery metadata says so; RFC 8414 metadata or configured endpoints alone do not. */
export function speaksOidc(server: oauth.AuthorizationServer): boolean {
  return !!server.userinfo_endpoint || !!server.id_token_signing_alg_values_supported;
}

/** The scopes to ask for: the defaults lose `openid` and `profile` at a plain OAuth 2.0 server. */
export function scopesFor(config: OAuthConfig, server: oauth.AuthorizationServer): string[] {
  if (!config.defaultScopes || speaksOidc(server)) return config.scopes;
  return config.scopes.filter((s) => !OIDC_ONLY_SCOPES.has(s));
}

const OIDC_ONLY_SCOPES = new Set(['openid', 'profile']);

/** What the UI calls the issuer: the configured one, else the token endpoint's origin (never its URL). */
export function displayIssuer(config: Pick<OAuthConfig, 'issuer' | 'endpoints'>): string | undefined {
  if (config.issuer) return config.issuer;
  try {
    return config.endpoints?.token ? new URL(config.endpoints.token).origin : undefined;
  } catch {
    return undefined;
  }
}

export async function resolveServer(config: OAuthConfig, signal?: AbortSignal): Promise<oauth.AuthorizationServer> {
  validateConfig(config);
  if (skipsDiscovery(config)) return fromEndpoints(config.endpoints!, config.issuer);
  const issuer = parseEndpointUrl(config.issuer!, 'tokenrelay.issuer');
  const options = { signal: signal ?? AbortSignal.timeout(10_000), [oauth.allowInsecureRequests]: isInsecureAllowed(issuer), [oauth.customFetch]: nodeFetch };
  let server: oauth.AuthorizationServer;
  try {
    const response = await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oidc' })
      .then((r) => (r.status === 404 ? oauth.discoveryRequest(issuer, { ...options, algorithm: 'oauth2' }) : r));
    server = await oauth.processDiscoveryResponse(issuer, response);
  } catch (err) {
    const classified = classifyOAuthError(err, `discovery at ${issuer.href}`);
    if (classified.code === 'offline') throw classified;
    throw new TokenRelayError('config', `Discovery of ${issuer.href} failed: ${classified.message}`, config.endpoints
      ? 'tokenrelay.endpoints has no token endpoint, so the endpoints were to be discovered. Add tokenrelay.endpoints.token (and authorization or deviceAuthorization) to use no discovery, or check tokenrelay.issuer.'
      : 'Check tokenrelay.issuer, or set tokenrelay.endpoints (token plus authorization or deviceAuthorization) for servers without discovery.');
  }
  // Explicit endpoints override discovered ones.
  if (!config.endpoints) return server;
  const explicit = Object.fromEntries(Object.entries(fromEndpoints({ ...config.endpoints, token: config.endpoints.token || server.token_endpoint! }, server.issuer))
    .filter(([, v]) => v !== undefined));
  return { ...server, ...explicit };
}

/**
 * Without a configured issuer, the token endpoint's origin stands in for it; a server that sends
 * an RFC 9207 `iss` then needs tokenrelay.issuer (the sign-in error says so).
 */
function fromEndpoints(e: Endpoints, issuer?: string): oauth.AuthorizationServer {
  const defined = (v?: string) => v || undefined;
  return {
    issuer: issuer ?? new URL(e.token).origin,
    token_endpoint: defined(e.token),
    authorization_endpoint: defined(e.authorization),
    device_authorization_endpoint: defined(e.deviceAuthorization),
    revocation_endpoint: defined(e.revocation),
    userinfo_endpoint: defined(e.userinfo),
    introspection_endpoint: defined(e.introspection),
  };
}
