// A small JSON-over-HTTP server on a unix socket (named pipe on Windows), as VS Code's git IPC does,
// hardened: body cap, stall and idle timeouts, a cap on links, strict JSON, versioned routes; a bad
// client never hurts others. The socket is bound only at its full path inside a private directory.
import type * as Http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../core/types.ts';
import { TokenRelayError, describeError } from '../core/errors.ts';
import { removeFile } from '../core/removeFile.ts';
import { redactor } from '../core/redact.ts';
import { checkPrivateDir } from '../core/slotDir.ts';
import { MAX_LINKS, admitLink, isBusy, markBusy } from './linkCap.ts';
import { MAX_SOCKET_PATH_BYTES, isPrivateSocketStat } from './socketPaths.ts';
import { PROTOCOL_VERSION, MAX_BODY_BYTES, type ErrorBody } from './wire.ts';

export type Handler = (body: Record<string, unknown>) => Promise<unknown>;

export interface JsonServerOptions {
  routes: Record<string, Handler>;
  log: Logger;
  requestTimeoutMs?: number;
  /** A connection silent this long with no request in progress is closed (default 10 s). */
  idleTimeoutMs?: number;
  maxBodyBytes?: number;
  /**
   * Observes handler latency (ms) for benchmarks: from the complete request body to the reply
   * handed to the socket (how fast the client sends its body is not the server's latency).
   */
  onHandled?: (route: string, ms: number) => void;
}

export interface JsonServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

export async function listenJson(socketPath: string, options: JsonServerOptions): Promise<JsonServer> {
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const requestTimeout = options.requestTimeoutMs ?? 5000;
  // Node checks request/header timeouts on this interval (default 30 s): a stalled client is cut
  // off within about requestTimeout + interval.
  // Loaded when a server starts: the one-shot CLI host, which serves nothing, never loads node:http.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createServer } = require('node:http') as typeof Http;
  const server = createServer({ connectionsCheckingInterval: requestTimeout ? Math.max(100, Math.min(1000, requestTimeout / 2)) : 1000 }, (req, res) => {
    void serve(req, res).catch((err) => options.log.warn(`IPC response failed: ${describeError(err)}`));
  });
  server.requestTimeout = requestTimeout;
  server.headersTimeout = requestTimeout ? Math.min(requestTimeout, 5000) : 5000;
  server.maxHeadersCount = 50;
  // Silence with no request in progress (connected, nothing sent; or done): close. A request
  // waiting on its handler (a refresh, a sign-in in the browser) is silent too, and is kept.
  server.setTimeout(options.idleTimeoutMs ?? 10_000, (socket: Socket) => { if (!isBusy(socket)) socket.destroy(); });
  server.on('connection', (socket: Socket) => {
    if (!admitLink(socket)) {
      // Closed as soon as the answer is handed to the kernel: a refused link must not hold a descriptor.
      endRaw(socket, 503, errorBody('busy', `This Token Relay host (a window or agent) has ${MAX_LINKS} connections open, none of them idle long enough to close; try again in a moment.`), 0);
    }
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    markBusy(req.socket, true);
    res.once('close', () => markBusy(req.socket, false));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Unparsable HTTP or a client that stalled: answer with a clear error when the socket still takes one.
    const pending = (socket as { _httpMessage?: ServerResponse })._httpMessage;
    if (socket.writable && !pending?.headersSent && err.code !== 'ECONNRESET') {
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (timedOut) endRaw(socket, 408, errorBody('timeout', `The request was not received within ${requestTimeout} ms.`));
      else endRaw(socket, 400, errorBody('bad-request', 'The request is not valid HTTP/1.1.'));
    } else {
      socket.destroy();
    }
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let started = performance.now();
    let route = '';
    try {
      route = routeOf(req.url ?? '');
      if (req.method !== 'POST') throw new HttpError(405, 'method', 'Only POST is served.');
      const handler = Object.hasOwn(options.routes, route) ? options.routes[route] : undefined;
      if (!handler) throw new HttpError(404, 'unknown-route', `Unknown route "${route}".`);
      const body = await readJsonBody(req, maxBody);
      started = performance.now();
      const result = await handler(body);
      reply(res, 200, result ?? {});
    } catch (err) {
      if (err instanceof HttpError) return reply(res, err.status, errorBody(err.code, err.message));
      if (err instanceof TokenRelayError) return reply(res, 409, errorBody(err.code, err.message));
      options.log.error(`IPC handler for ${route} failed: ${describeError(err)}`);
      reply(res, 500, errorBody('internal', 'Token Relay hit an internal error; see the Token Relay log.'));
    } finally {
      options.onHandled?.(route, performance.now() - started);
    }
  }

  // No route is an upgrade: answer it as an unknown route rather than leaving the socket hanging.
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    endRaw(socket, 404, errorBody('unknown-route', 'This socket serves no upgrades.'));
  });

  function routeOf(url: string): string {
    const match = /^\/v(\d+)\/([\w-]+)$/.exec(url);
    if (!match) throw new HttpError(404, 'unknown-route', `Unknown path "${url.slice(0, 64)}".`);
    if (Number(match[1]) !== PROTOCOL_VERSION) {
      throw new HttpError(400, 'unsupported-version',
        `Protocol version ${match[1]} is not supported (this Token Relay host speaks v${PROTOCOL_VERSION}); update the tokenrelay CLI or the extension.`);
    }
    return match[2];
  }

  await bindPrivate(server, socketPath);
  server.unref();

  return {
    socketPath,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (process.platform !== 'win32') await removeFile(socketPath);
    },
  };
}

/**
 * Binds at exactly `socketPath` inside a private directory, as a 0600 socket: the length is checked
 * first (libuv would truncate a longer path and bind elsewhere), the directory is checked, and on
 * any failure after the bind the listener is closed and the file removed. Not under umask 077: the
 * umask is process-wide, and other extensions' files created on libuv's thread pool meanwhile would
 * get it too; the 0700 directory covers the moment between bind and chmod.
 */
async function bindPrivate(server: Server, socketPath: string): Promise<void> {
  if (process.platform === 'win32') return listen(server, socketPath);
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new TokenRelayError('lock-dir', `The socket path ${socketPath} is ${bytes} bytes, more than the ${MAX_SOCKET_PATH_BYTES} this system allows.`,
      'Set XDG_RUNTIME_DIR to a short directory only you can enter (mode 0700), then reload the window or restart the agent.');
  }
  checkPrivateDir(dirname(socketPath), 'socket directory');
  await removeFile(socketPath);
  await listen(server, socketPath);
  try {
    await fs.chmod(socketPath, 0o600);
    if (!isPrivateSocketStat(await fs.lstat(socketPath))) throw new Error('not a private socket after binding');
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await removeFile(socketPath).catch(() => undefined);
    throw new TokenRelayError('lock-dir', `Token Relay could not make its socket ${socketPath} private (${describeError(err)}).`,
      'Check the socket directory\'s owner and file system, then reload the window or restart the agent.');
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(new TokenRelayError('lock-dir', `Token Relay could not listen on ${path} (${err.code ?? err.message}).`,
      'Check that the socket directory is writable, then reload the window or restart the agent.'));
    server.once('error', failed);
    server.listen(path, () => { server.off('error', failed); resolve(); });
  });
}

function readJsonBody(req: IncomingMessage, maxBody: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) return reject(new HttpError(413, 'too-large', `Request body over ${maxBody} bytes.`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        // Stop reading; the 413 goes out with `connection: close` and the socket is then closed.
        req.pause();
        req.removeAllListeners('data');
        chunks.length = 0;
        reject(new HttpError(413, 'too-large', `Request body over ${maxBody} bytes.`));
      } else chunks.push(chunk);
    });
    req.on('error', (err) => reject(new HttpError(400, 'bad-request', describeError(err))));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        const value: unknown = JSON.parse(text);
        if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
        resolve(value as Record<string, unknown>);
      } catch {
        reject(new HttpError(400, 'malformed-json', 'Request body is not a JSON object.'));
      }
    });
  });
}

/** An error answer written straight to a socket that no ServerResponse owns (a parse error, a refused upgrade). */
function endRaw(socket: Duplex, status: number, body: ErrorBody, closeAfterMs = 1000): void {
  const text = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${status} ${(require('node:http') as typeof Http).STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  if (closeAfterMs === 0) socket.once('finish', () => socket.destroy());
  else setTimeout(() => socket.destroy(), closeAfterMs).unref();
}

/** Error messages may quote a server: they leave the window only through the redactor. */
function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message: redactor.redact(message) } };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
  // A request whose body was not read to the end (413, early errors) must not keep its socket open.
  if (!res.req.complete) res.once('finish', () => setTimeout(() => res.req.socket.destroy(), 50).unref());
  res.end(text);
}
