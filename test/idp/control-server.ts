// The /__test/ control plane for a child-process IdP. It runs on its own 127.0.0.1 server so
// it stays reachable while the IdP is in 'refuse' mode.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { FaultMode, Idp } from './server.ts';
import { ECHO_FAULTS } from './echo.ts';

const FAULTS: readonly FaultMode[] = ['none', 'error500', 'hang', 'refuse', 'bare-400', 'revocation-401', ...ECHO_FAULTS];

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  const value: unknown = text ? JSON.parse(text) : {};
  if (!value || typeof value !== 'object') throw new TypeError('JSON object body expected');
  return value as Record<string, unknown>;
}

type Handler = (body: Record<string, unknown>) => unknown;

function routes(idp: Idp): Record<string, Handler> {
  return {
    'GET /__test/counters': () => idp.counters(),
    'GET /__test/issued-tokens': () => idp.issuedTokens(),
    'POST /__test/reset': () => { idp.resetCounters(); return { ok: true }; },
    'POST /__test/ttl': ({ seconds }) => { idp.setAccessTokenTtl(Number(seconds)); return { ok: true }; },
    'POST /__test/reuse-grace': ({ seconds }) => { idp.setReuseGraceSeconds(Number(seconds)); return { ok: true }; },
    'POST /__test/revoke-access': ({ token, latest }) => ({
      revoked: latest === true ? idp.revokeLatestAccessToken() : idp.revokeAccessToken(String(token)),
    }),
    'POST /__test/fault': async ({ mode }) => {
      if (!FAULTS.includes(mode as FaultMode)) throw new TypeError(`mode must be one of ${FAULTS.join(', ')}`);
      await idp.setFault(mode as FaultMode);
      return { ok: true };
    },
    'POST /__test/introspect': ({ token }) => idp.introspect(String(token)),
  };
}

export async function startControlServer(idp: Idp): Promise<{ url: string; close(): Promise<void> }> {
  const table = routes(idp);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const handler = table[`${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`];
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (!handler) return reply(404, { error: 'not_found' });
    readJson(req).then(handler).then((body) => reply(200, body), (err: Error) => reply(400, { error: err.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
