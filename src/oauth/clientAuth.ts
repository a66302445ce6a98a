// How the client authenticates at the token, revocation and device endpoints: a public client
// sends only its client_id; a client with a secret (GitHub Apps, Google's desktop clients,
// confidential clients) sends it by HTTP Basic or in the form body, as tokenrelay.clientAuthMethod
// says or, on "auto", as discovery's token_endpoint_auth_methods_supported allows. The secret itself
// comes from the key store (never from settings) through a source the host provides.
import * as oauth from 'oauth4webapi';
import { TokenRelayError } from '../core/errors.ts';

export const CLIENT_AUTH_METHODS = ['auto', 'none', 'client_secret_basic', 'client_secret_post'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];
export type ConcreteAuthMethod = Exclude<ClientAuthMethod, 'auto'>;

/** Reads the client secret (undefined: none stored). Never logged, never put in an error. */
export type ClientSecretSource = () => Promise<string | undefined>;

export const SET_SECRET_HINT = 'Set it with the command "Token Relay: Set Client Secret" or "tokenrelay config set-client-secret".';

/**
 * The method to use. "auto": none without a secret; with one, client_secret_basic where the server
 * lists it or lists nothing (RFC 6749 §2.3.1 makes Basic the one every server supports), else
 * client_secret_post where listed.
 */
export function chooseAuthMethod(configured: ClientAuthMethod | undefined, server: oauth.AuthorizationServer, hasSecret: boolean): ConcreteAuthMethod {
  if (configured && configured !== 'auto') return configured;
  if (!hasSecret) return 'none';
  const supported = server.token_endpoint_auth_methods_supported;
  if (!supported?.length || supported.includes('client_secret_basic')) return 'client_secret_basic';
  return supported.includes('client_secret_post') ? 'client_secret_post' : 'client_secret_basic';
}

export function clientAuthFor(method: ConcreteAuthMethod, secret: string | undefined): oauth.ClientAuth {
  if (method === 'none') return oauth.None();
  if (!secret) {
    throw new TokenRelayError('config', `tokenrelay.clientAuthMethod is "${method}", but no client secret is stored for this client.`,
      `${SET_SECRET_HINT} Or set tokenrelay.clientAuthMethod to "none" (or "auto") for a public client.`);
  }
  return method === 'client_secret_post' ? oauth.ClientSecretPost(secret) : oauth.ClientSecretBasic(secret);
}

export function parseClientAuthMethod(raw: unknown): ClientAuthMethod {
  if (raw === undefined || raw === null || raw === '') return 'auto';
  if ((CLIENT_AUTH_METHODS as readonly unknown[]).includes(raw)) return raw as ClientAuthMethod;
  throw new TokenRelayError('config', `tokenrelay.clientAuthMethod ${JSON.stringify(raw)} is not a client authentication method.`,
    `Use one of ${CLIENT_AUTH_METHODS.join(', ')} ("auto": none without a client secret, else what the identity provider lists).`);
}
