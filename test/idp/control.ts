// Typed client for the /__test/ control plane of a child-process IdP (see main.ts).
import type { Counters, FaultMode, Introspection } from './server.ts';

export interface IdpControl {
  counters(): Promise<Counters>;
  resetCounters(): Promise<void>;
  issuedTokens(): Promise<string[]>;
  setAccessTokenTtl(seconds: number): Promise<void>;
  /** 0 = strict; see grace.ts. */
  setReuseGraceSeconds(seconds: number): Promise<void>;
  revokeAccessToken(token: string): Promise<boolean>;
  revokeLatestAccessToken(): Promise<boolean>;
  setFault(mode: FaultMode): Promise<void>;
  introspect(token: string): Promise<Introspection>;
}

export function idpControl(controlUrl: string): IdpControl {
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(new URL(`/__test/${path}`, controlUrl), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(`IdP control ${path} failed: HTTP ${res.status} ${json.error ?? ''}`);
    return json;
  }
  return {
    counters: () => call<Counters>('GET', 'counters'),
    resetCounters: async () => { await call('POST', 'reset'); },
    issuedTokens: () => call<string[]>('GET', 'issued-tokens'),
    setAccessTokenTtl: async (seconds) => { await call('POST', 'ttl', { seconds }); },
    setReuseGraceSeconds: async (seconds) => { await call('POST', 'reuse-grace', { seconds }); },
    revokeAccessToken: async (token) => (await call<{ revoked: boolean }>('POST', 'revoke-access', { token })).revoked,
    revokeLatestAccessToken: async () => (await call<{ revoked: boolean }>('POST', 'revoke-access', { latest: true })).revoked,
    setFault: async (mode) => { await call('POST', 'fault', { mode }); },
    introspect: (token) => call<Introspection>('POST', 'introspect', { token }),
  };
}
