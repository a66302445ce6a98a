// oidc-provider 9 ships no types; this declares only the surface the test IdP uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface OidcClient {
    clientId: string;
    clientName?: string;
    grantTypeAllowed(type: string): boolean;
  }

  export interface OidcContext {
    path: string;
    method: string;
    status: number;
    body: unknown;
    type: string;
    state: Record<string, unknown>;
    req: IncomingMessage;
    request: { req: IncomingMessage };
    response: { req: IncomingMessage };
    set(field: string, value: string): void;
    oidc?: {
      route?: string;
      client?: OidcClient;
      params?: Record<string, unknown>;
      body?: Record<string, unknown>;
    };
  }

  export interface OidcError extends Error {
    error?: string;
    error_description?: string;
    error_detail?: string;
    statusCode?: number;
  }

  export type AdapterPayload = Record<string, unknown> & {
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: number;
  };

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export type Configuration = Record<string, unknown>;

  export const errors: { InvalidTarget: new (description?: string) => OidcError };

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: (ctx: OidcContext, next: () => Promise<void>) => Promise<void>): void;
    on(event: string, listener: (ctx: OidcContext, arg: unknown) => void): this;
  }
}
