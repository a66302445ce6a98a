// A tiny protected resource on its own 127.0.0.1 server. It also exposes the provider's
// introspection route, so token validation keeps working while the public IdP server is
// faulted (a resource server's path to its AS is not the client's path).
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { CounterStore } from './counters.ts';
import { introspectToken, type ClientCredentials, type Introspection } from './introspection.ts';

const INTROSPECTION_PATH = '/token/introspection';
export const API_PATH = '/api/me';

export interface ApiServer {
  apiUrl: string;
  introspect(token: string): Promise<Introspection>;
  close(): Promise<void>;
}

export interface ApiDeps {
  provider: RequestListener;
  introspector: ClientCredentials;
  counters: CounterStore;
  log: (line: string) => void;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

export async function startApi(deps: ApiDeps): Promise<ApiServer> {
  let origin = '';
  const introspect = (token: string) => introspectToken(origin + INTROSPECTION_PATH, deps.introspector, token);

  function deny(res: ServerResponse, description: string): void {
    deps.counters.bump('api401s');
    deps.log(`api 401: ${description}`);
    json(res, 401, { error: 'invalid_token', error_description: description }, {
      'www-authenticate': `Bearer error="invalid_token", error_description="${description}"`,
    });
  }

  async function me(req: IncomingMessage, res: ServerResponse): Promise<void> {
    deps.counters.bump('apiCalls');
    const token = /^Bearer +([^ ]+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return deny(res, 'missing bearer token');
    let info: Introspection;
    try {
      info = await introspect(token);
    } catch (err) {
      deps.log(`api 503: ${(err as Error).message}`);
      return json(res, 503, { error: 'temporarily_unavailable' });
    }
    if (!info.active) return deny(res, 'token is not active');
    // oidc-provider reports token_type only for access tokens; refresh tokens are not bearer credentials.
    if (info.token_type !== 'Bearer') return deny(res, 'not a bearer access token');
    json(res, 200, { sub: info.sub, scope: info.scope });
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === API_PATH && req.method === 'GET') {
      me(req, res).catch((err: Error) => {
        deps.log(`api 500: ${err.message}`);
        if (!res.headersSent) json(res, 500, { error: 'server_error' });
      });
    }
    else if (path === INTROSPECTION_PATH) deps.provider(req, res);
    else json(res, 404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  return {
    apiUrl: origin + API_PATH,
    introspect,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
