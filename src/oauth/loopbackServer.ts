// A 127.0.0.1 listener on an ephemeral (or the configured) port for one browser round trip of a sign-in (RFC 8252 §7.3,
// §8.3). Any web page can steer the user's browser at it, and DNS rebinding lets a page reach it under
// a foreign Host, so its handlers answer only requests for their own Host carrying a secret (the
// sign-in's state, the launcher's path) and give everything else a short answer without detail.
import type * as Http from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

export interface LoopbackServer {
  readonly port: number;
  /** The Host headers a browser sends for this listener: `127.0.0.1:<port>`, `localhost:<port>`. */
  readonly authorities: readonly string[];
  close(): Promise<void>;
}

/** A browser sends its request at once; a connection that stays silent only holds a socket. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Long enough to flush a last page on loopback; then what is left (a silent connection) is cut. */
const CLOSE_GRACE_MS = 200;

/**
 * Listens on 127.0.0.1: on an ephemeral port, or on exactly `fixed.port` (tokenrelay.redirectUri).
 * A fixed `localhost` redirect also listens on ::1 where this machine has it, since a browser may
 * resolve localhost to either. A fixed port that is taken rejects with the listen error (EADDRINUSE).
 */
export async function listenOnLoopback(handle: RequestListener, fixed?: { port: number; host: '127.0.0.1' | 'localhost' }): Promise<LoopbackServer> {
  const first = await listenOne(handle, '127.0.0.1', fixed?.port ?? 0);
  const port = (first.address() as { port: number }).port;
  const servers = [first];
  if (fixed?.host === 'localhost') {
    // Without IPv6 the browser has only 127.0.0.1. But ::1 held by another program would get the
    // redirect of a browser that resolves localhost there: that fails the sign-in like a taken port.
    try {
      servers.push(await listenOne(handle, '::1', port));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRNOTAVAIL' && code !== 'EAFNOSUPPORT') {
        await closeGently(first);
        throw err;
      }
    }
  }
  return {
    port,
    authorities: [`127.0.0.1:${port}`, `localhost:${port}`],
    close: () => Promise.all(servers.map(closeGently)).then(() => undefined),
  };
}

async function listenOne(handle: RequestListener, host: string, port: number): Promise<Server> {
  // node:http is loaded only for a browser sign-in (dist/host.js starts without it).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const server = (require('node:http') as typeof Http).createServer(handle);
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  // The sign-in that waits on it keeps the process alive (its timer), not the listener.
  server.unref();
  return server;
}

/** Stops accepting at once; an answer in flight still reaches the browser (it closes its connection). */
function closeGently(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    server.close(() => { clearTimeout(cut); resolve(); });
    server.closeIdleConnections();
  });
}

/** True when the request's Host header (case-insensitive) is one of `allowed`; a missing Host is not. */
export function hostIsOneOf(req: IncomingMessage, allowed: readonly string[]): boolean {
  const host = req.headers.host?.toLowerCase();
  return host !== undefined && allowed.includes(host);
}

/**
 * The request target as a URL on `authority`, or undefined unless it is in origin form (`/path?query`).
 * Absolute-form targets (`GET http://evil/…`) are refused; `//x` stays a path, never a host.
 */
export function requestUrl(req: IncomingMessage, authority: string): URL | undefined {
  return req.url?.startsWith('/') ? new URL(`http://${authority}${req.url}`) : undefined;
}

/** Compares a secret taken from a request in time that does not depend on how much of it matched. */
export function sameSecret(candidate: string | null | undefined, secret: string): boolean {
  if (typeof candidate !== 'string') return false;
  const a = Buffer.from(candidate);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A short plain-text answer that names no reason and no expected value. */
export function answerPlain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' }).end(`${text}\n`);
}

/** An HTML page that is not cached and leaks no referrer (the URL that led to it may carry a code). */
export function answerHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    connection: 'close',
  }).end(html);
}
