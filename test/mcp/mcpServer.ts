// A remote MCP server as a company would run one: the SDK's McpServer behind its
// StreamableHTTPServerTransport on node:http, one session per client, every request's bearer token
// validated by introspection at the test IdP (401 otherwise). Tools: `whoami` (the token's
// subject) and `roundTrip` (a log notification and a sampling request to the client, so the test
// sees server-to-client traffic pass through the proxy). Other modes answer what a wrong URL does.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CreateMessageResultSchema, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Idp } from '../idp/server.ts';

export type ServerMode = 'mcp' | 'html' | 'not-found' | 'not-json' | 'not-json-rpc' | 'sign-in-redirect' | 'refuse-all';

export interface SeenToken {
  token: string;
  firstSeen: number;
  /** Unix seconds, from introspection. */
  exp: number;
}

export interface TestMcpServer {
  url: string;
  /** Accepted tokens in the order first seen. */
  seen: SeenToken[];
  calls: number;
  unauthorized: number;
  /** Every HTTP request that arrived, as "METHOD path". */
  requests: string[];
  /** Every byte any client sent, as latin1 text: what a hostile server could collect. */
  received(): string;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Served at /.well-known/oauth-protected-resource/mcp (RFC 9728); the placeholder ORIGIN becomes the server's origin. */
  metadata?: Record<string, unknown>;
}

export async function startMcpServer(idp: Idp, mode: ServerMode = 'mcp', options: ServerOptions = {}): Promise<TestMcpServer> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const state = { seen: [] as SeenToken[], calls: 0, unauthorized: 0, requests: [] as string[] };
  const received: Buffer[] = [];
  let origin = '';

  const deny = (res: ServerResponse, why: string) => {
    state.unauthorized++;
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Bearer error="invalid_token", error_description="${why}"` });
    res.end(JSON.stringify({ error: 'invalid_token', error_description: why }));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    state.requests.push(`${req.method} ${path}`);
    if (path === '/.well-known/oauth-protected-resource/mcp' && options.metadata) {
      const text = JSON.stringify(options.metadata).replaceAll('ORIGIN', origin);
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    }
    if (path === '/moved') return void res.writeHead(308, { location: '/mcp' }).end(); // a URL that moved, same origin
    if (mode === 'sign-in-redirect') return void res.writeHead(302, { location: 'https://login.example.com/authorize?client_id=x' }).end();
    if (path !== '/mcp' || mode === 'not-found') {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body><h1>Not Found</h1></body></html>');
      return;
    }
    if (mode === 'html') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Sign in</title>');
    if (mode === 'not-json') return void res.writeHead(200, { 'content-type': 'application/json' }).end('<html>oops</html>');
    if (mode === 'not-json-rpc') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return deny(res, 'missing bearer token');
    if (mode === 'refuse-all') return deny(res, 'wrong audience');
    const info = await idp.introspect(token);
    if (!info.active || info.token_type !== 'Bearer') return deny(res, 'token is not active');
    if (!state.seen.some((s) => s.token === token)) state.seen.push({ token, firstSeen: Date.now(), exp: info.exp ?? 0 });

    const body = req.method === 'POST' ? JSON.parse(await readBody(req)) as unknown : undefined;
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id !== undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
      if (!isInitializeRequest(body)) return void res.writeHead(400).end();
      transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (sid) => { sessions.set(sid, transport!); } });
      const created = transport;
      created.onclose = () => { if (created.sessionId) sessions.delete(created.sessionId); };
      await tools(state).connect(created);
    }
    (req as IncomingMessage & { auth?: unknown }).auth = { token, clientId: String(info.client_id), scopes: String(info.scope ?? '').split(' '), extra: { sub: info.sub } };
    await transport.handleRequest(req, res, body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message);
    });
  });
  server.on('connection', (socket) => socket.on('data', (d: Buffer) => { received.push(d); }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    url: `${origin}/mcp`,
    get seen() { return state.seen; },
    get calls() { return state.calls; },
    get unauthorized() { return state.unauthorized; },
    get requests() { return state.requests; },
    received: () => Buffer.concat(received).toString('latin1'),
    async close() {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function tools(state: { calls: number }): McpServer {
  const mcp = new McpServer({ name: 'test-remote', version: '1.0.0' }, { capabilities: { logging: {} } });
  mcp.registerTool('whoami', { description: 'The subject of the caller\'s access token' }, (extra) => {
    state.calls++;
    return { content: [{ type: 'text', text: String(extra.authInfo?.extra?.sub) }] };
  });
  mcp.registerTool('roundTrip', { description: 'Logs, then asks the client to sample' }, async (extra) => {
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'working on it' } });
    const sampled = await extra.sendRequest({
      method: 'sampling/createMessage',
      params: { messages: [{ role: 'user', content: { type: 'text', text: 'say hi' } }], maxTokens: 10 },
    }, CreateMessageResultSchema);
    return { content: [{ type: 'text', text: sampled.content.type === 'text' ? sampled.content.text : '?' }] };
  });
  return mcp;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => { text += d; }).once('end', () => resolve(text)).once('error', reject);
  });
}
