// The HTTP transport under oauth4webapi (its `customFetch` hook): node's http and https modules
// rather than the global fetch. A refresh sits on every waiting caller's critical path, and the
// global fetch (undici) spent about 23 ms of CPU on a process's first refresh and 5–10 ms on each
// later one (measured on 2 cores); node's http client costs a fraction of that. In VS Code the
// extension host's proxy and certificate support applies to these modules as well.
import type * as Http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import type { CustomFetchOptions } from 'oauth4webapi';

// Loaded on the first request: the one-shot CLI host answers a fresh token without them (~2 ms of start-up).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const http = (): typeof Http => require('node:http') as typeof Http;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const https = (): typeof Https => require('node:https') as typeof Https;

/** Token and discovery responses are a few kilobytes; anything this large is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Network failures reject as the global fetch's do (TypeError "fetch failed" with the cause); aborts with the signal's reason. */
export function nodeFetch(url: string, options: CustomFetchOptions<string, unknown>, fresh = false): Promise<Response> {
  const body = options.body instanceof URLSearchParams ? options.body.toString() : options.body;
  if (body !== undefined && typeof body !== 'string') return fetch(url, options as RequestInit); // streams: not used by this client
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? https().request : http().request;
    const headers: Record<string, string> = { ...options.headers };
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const fail = (cause: unknown) => reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause }));
    const req = send(target, { method: options.method, headers, signal, agent: fresh ? false : undefined }, (res) => {
      collect(res).then((payload) => toResponse(res, payload, options.method)).then(resolve, fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

function collect(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) res.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
      else chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('the connection closed before the response was complete'));
    });
  });
}

function toResponse(res: IncomingMessage, payload: Buffer, method: string): Response {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 599) throw new Error(`HTTP status ${status} is not a valid response status`);
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  const noBody = method === 'HEAD' || status === 204 || status === 205 || status === 304;
  return new Response(noBody ? null : payload, { status, statusText: res.statusMessage ?? '', headers });
}

/**
 * For refresh-token grants: always a new connection. A kept-alive one the server closed while this
 * process slept or was stopped fails with a reset that looks like a lost answer; on a new
 * connection a reset really may mean the token was spent, and the core treats it so (P1).
 */
export function freshConnectionFetch(url: string, options: CustomFetchOptions<string, unknown>): Promise<Response> {
  return nodeFetch(url, options, true);
}
