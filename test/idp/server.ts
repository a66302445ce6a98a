// startIdp(): a real oidc-provider on 127.0.0.1 plus the knobs tests need (TTL, early
// revocation, faults, counters). Composes the single-purpose modules in this folder.
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import { MapStore } from './adapter.ts';
import { startApi } from './api.ts';
import { buildConfiguration, CLIENT_ID, INTROSPECTOR_ID } from './config.ts';
import { CounterStore, type Counters } from './counters.ts';
import { FaultableServer, type FaultMode } from './faults.ts';
import { attachGrace, checkGrace } from './grace.ts';
import { attachHooks } from './hooks.ts';
import { sharedHandle } from './handle.ts';
import type { Introspection } from './introspection.ts';

export type { Counters } from './counters.ts';
export type { FaultMode } from './faults.ts';
export type { Introspection } from './introspection.ts';

export interface IdpOptions {
  port?: number;
  /** Seconds; default 60, works down to 1. */
  accessTokenTtl?: number;
  logger?: (line: string) => void;
  /**
   * Loopback address of the public (issuer) server; default 127.0.0.1. '::1' gives the issuer
   * http://[::1]:port, which code-server's openExternal leaves alone (it rewrites
   * http://127.0.0.1:port/... and http://localhost:port/... to its /proxy/port/ route, dropping path
   * and query, so browser sign-in to a 127.0.0.1 IdP cannot work there).
   */
  host?: '127.0.0.1' | '::1';
  /**
   * Reuse-grace mode (grace.ts): seconds during which a rotated refresh token may be presented
   * again and gets its first use's response replayed. Default 0 = strict (reuse revokes the grant).
   */
  reuseGraceSeconds?: number;
  /** Adds the public client EXACT_CLIENT_ID (config.ts), whose redirect URIs must match exactly, port included. */
  exactRedirectUris?: string[];
}

export interface Idp {
  issuer: string;
  clientId: typeof CLIENT_ID;
  apiUrl: string;
  port: number;
  /** The secret of the clients with one (config.ts BASIC_CLIENT_ID, POST_CLIENT_ID); test/idp only. */
  clientSecret?: string;
  counters(): Counters;
  resetCounters(): void;
  issuedTokens(): string[];
  setAccessTokenTtl(seconds: number): void;
  /** 0 = strict. Applies to first uses made while it is > 0. */
  setReuseGraceSeconds(seconds: number): void;
  reuseGraceSeconds(): number;
  /** Revokes that access token only; its grant and refresh token stay valid. */
  revokeAccessToken(token: string): boolean;
  revokeLatestAccessToken(): boolean;
  setFault(mode: FaultMode): Promise<void>;
  fault(): FaultMode;
  introspect(token: string): Promise<Introspection>;
  close(): Promise<void>;
}

function checkTtl(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`access token TTL must be an integer >= 1, got ${seconds}`);
  return seconds;
}

export async function startIdp(opts: IdpOptions = {}): Promise<Idp> {
  const log = opts.logger ?? (() => {});
  let accessTokenTtl = checkTtl(opts.accessTokenTtl ?? 60);
  let reuseGrace = checkGrace(opts.reuseGraceSeconds ?? 0);
  const counters = new CounterStore();
  const store = new MapStore();
  const introspector = { id: INTROSPECTOR_ID, secret: randomBytes(24).toString('base64url') };
  const clientSecret = randomBytes(24).toString('base64url');

  const host = opts.host ?? '127.0.0.1';
  const web = new FaultableServer(log, host);
  const port = await web.listen(opts.port ?? 0); // the issuer needs the real port
  const issuer = `http://${host === '::1' ? '[::1]' : host}:${port}`;
  const provider = new Provider(issuer, await buildConfiguration({
    adapter: store.factory,
    accessTokenTtl: () => accessTokenTtl,
    introspectorSecret: introspector.secret,
    clientSecret,
    exactRedirectUris: opts.exactRedirectUris,
  }));
  const live = (refreshToken: string) => store.get(`RefreshToken:${refreshToken}`) !== undefined;
  attachGrace(provider, { seconds: () => reuseGrace, live, counters, log });
  attachHooks(provider, counters, log);
  web.handler = provider.callback();
  web.current = () => ({ accessToken: counters.latestAccessToken(), idToken: counters.latestIdToken() });
  web.onFaultAnswer = () => counters.bump('faultAnswers');
  const api = await startApi({ provider: web.handler, introspector, counters, log });
  log(`idp listening issuer=${issuer} api=${api.apiUrl}`);

  const revokeAccessToken = (token: string): boolean => {
    const revoked = store.delete(`AccessToken:${token}`);
    log(`access token revoked early: ${revoked}`);
    return revoked;
  };

  return {
    issuer,
    clientId: CLIENT_ID,
    apiUrl: api.apiUrl,
    port,
    clientSecret,
    counters: () => counters.snapshot(),
    resetCounters: () => counters.reset(),
    issuedTokens: () => counters.issuedTokens(),
    setAccessTokenTtl: (seconds) => { accessTokenTtl = checkTtl(seconds); },
    setReuseGraceSeconds: (seconds) => { reuseGrace = checkGrace(seconds); log(`reuse grace ${seconds} s`); },
    reuseGraceSeconds: () => reuseGrace,
    ...sharedHandle({ web, api, counters, revokeAccessToken, log, name: 'idp' }),
  };
}
