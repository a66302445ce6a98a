// oidc-provider configuration: strict on purpose (PKCE, rotation, reuse detection, zero clock
// tolerance) so the client under test meets a server as unforgiving as a production one.
import { generateKeyPair, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { Adapter, Configuration, OidcClient, OidcContext } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { devicePages, renderError } from './pages.ts';

export const CLIENT_ID = 'tokenrelay-test';
export const INTROSPECTOR_ID = 'tokenrelay-introspector';
/** A public client whose redirect URIs match exactly, port included (glewlwyd's way): only with `exactRedirectUris`. */
export const EXACT_CLIENT_ID = 'tokenrelay-test-exact';
/** Clients with a secret (GitHub Apps, Google desktop clients, confidential clients): HTTP Basic, and in the form body. */
export const BASIC_CLIENT_ID = 'tokenrelay-test-basic';
export const POST_CLIENT_ID = 'tokenrelay-test-post';
export const SCOPES = ['openid', 'offline_access', 'profile', 'api:read'];
/**
 * RFC 8707 audiences: each gets access tokens with that `aud` (introspectable). A sign-in that names
 * no resource is granted all of them, so a refresh may ask for any one; any other is invalid_target.
 */
export const RESOURCES = ['https://api-a.test', 'https://api-b.test', 'https://api-c.test'] as const;
const RESOURCE_SCOPE = 'api:read';
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const DAY = 24 * 60 * 60;

export interface ConfigInput {
  adapter: (model: string) => Adapter;
  accessTokenTtl: () => number;
  introspectorSecret: string;
  /** The secret of BASIC_CLIENT_ID and POST_CLIENT_ID. */
  clientSecret: string;
  /** Registers EXACT_CLIENT_ID with these redirect URIs, compared exactly (a web client: no RFC 8252 port wildcard). */
  exactRedirectUris?: string[];
}

async function rsaSigningJwk(): Promise<Record<string, unknown>> {
  // RS256: an EC-only key set would force every client to name id_token_signed_response_alg.
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

const onlyIntrospector = (ctx: OidcContext, client: OidcClient): boolean => client.clientId === INTROSPECTOR_ID;
const ownTokensOnly = (ctx: OidcContext, client: OidcClient, token: { clientId?: string }): boolean =>
  token.clientId === client.clientId;

export async function buildConfiguration(input: ConfigInput): Promise<Configuration> {
  return {
    adapter: input.adapter,
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: 'native', // loopback redirect on any port
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
      },
      ...(['client_secret_basic', 'client_secret_post'] as const).map((method) => ({
        client_id: method === 'client_secret_basic' ? BASIC_CLIENT_ID : POST_CLIENT_ID,
        client_secret: input.clientSecret,
        application_type: 'native' as const,
        token_endpoint_auth_method: method, // oidc-provider accepts only the registered method
        redirect_uris: ['http://127.0.0.1/callback'],
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
      })),
      ...(input.exactRedirectUris ? [{
        client_id: EXACT_CLIENT_ID,
        application_type: 'web' as const, // redirect URIs compared exactly, port included
        token_endpoint_auth_method: 'none',
        redirect_uris: input.exactRedirectUris,
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token'],
      }] : []),
      {
        client_id: INTROSPECTOR_ID,
        client_secret: input.introspectorSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [],
        response_types: [],
        grant_types: [],
      },
    ],
    jwks: { keys: [await rsaSigningJwk()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: SCOPES,
    claims: { openid: ['sub'], profile: ['name'] },
    findAccount: (_ctx: OidcContext, sub: string) => ({ accountId: sub, claims: () => ({ sub, name: sub }) }),
    pkce: { required: () => true },
    clockTolerance: 0, // a server-side 401 must be authoritative
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx: OidcContext, client: OidcClient, source: { scopes: Set<string> }) =>
      client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access'),
    ttl: {
      AccessToken: () => input.accessTokenTtl(),
      AuthorizationCode: 60,
      DeviceCode: 600,
      IdToken: 3600,
      RefreshToken: DAY,
      Interaction: 3600,
      Session: DAY,
      Grant: DAY,
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true, ...devicePages },
      revocation: { enabled: true, allowedPolicy: ownTokensOnly },
      introspection: { enabled: true, allowedPolicy: onlyIntrospector },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // At authorization (no `oneOf`): every test audience. For a token without `resource`
        // (`oneOf`: what was granted): none, so it stays the userinfo token it always was.
        defaultResource: (_ctx: OidcContext, _client: OidcClient, oneOf?: string | string[]) => (oneOf ? undefined : [...RESOURCES]),
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx: OidcContext, resource: string) => {
          if (!(RESOURCES as readonly string[]).includes(resource)) throw new errors.InvalidTarget();
          // No accessTokenTTL: the IdP's (settable) access token TTL applies to every audience.
          return { scope: RESOURCE_SCOPE, audience: resource, accessTokenFormat: 'opaque' };
        },
      },
    },
    clientBasedCORS: () => false,
    renderError,
  };
}
