// The client half of jsonServer: one POST, JSON in and out, typed errors, bounded time.
import { request } from 'node:http';
import { connect } from 'node:net';
import { TokenRelayError, type ErrorCode } from '../core/errors.ts';
import { PROTOCOL_VERSION, type ErrorBody } from './wire.ts';

/** An answer larger than this is not one of ours (the biggest, status, is well under 4 KiB). */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class IpcUnavailableError extends Error {
  constructor(readonly socketPath: string, readonly reason: string) {
    super(`No Token Relay window answers at ${socketPath} (${reason}).`);
  }
}

/** A structured error from the other side (e.g. not-signed-in), keeping its code. */
export class IpcRemoteError extends TokenRelayError {
  constructor(code: string, message: string, readonly status: number) {
    super(code as ErrorCode, message);
  }
}

/**
 * One POST `/v<PROTOCOL_VERSION>/<route>` over the socket with node:http, one connection per call
 * (`connection: close`). The connection comes from `createConnection` rather than an Agent: building
 * node's Agent costs the CLI about 4 ms per start (it compiles net.isIP's large regular expression).
 * `timeoutMs` bounds each silence on the socket (connect, the window's handling, the answer).
 */
export function postJson<T>(socketPath: string, route: string, body: unknown, timeoutMs = 30_000): Promise<T> {
  const payload = Buffer.from(JSON.stringify(body ?? {}), 'utf8');
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      req.destroy();
      fn();
    };
    const unavailable = (reason: string) => settle(() => reject(new IpcUnavailableError(socketPath, reason)));
    const req = request({
      socketPath, createConnection: () => connect(socketPath), method: 'POST', path: `/v${PROTOCOL_VERSION}/${route}`,
      headers: { host: 'tokenrelay', 'content-type': 'application/json', 'content-length': payload.length, connection: 'close' },
    }, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_ANSWER_BYTES) settle(() => reject(new IpcRemoteError('protocol', 'The Token Relay window sent an oversized answer.', res.statusCode ?? 0)));
        else chunks.push(chunk);
      });
      res.on('end', () => settle(() => {
        const status = res.statusCode ?? 0;
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks, received).toString('utf8'));
        } catch {
          return reject(new IpcRemoteError('protocol', 'The Token Relay window sent an unreadable answer.', status));
        }
        if (status === 200) return resolve(parsed as T);
        const error = (parsed as ErrorBody | null)?.error;
        const valid = typeof error?.code === 'string' && typeof error.message === 'string';
        reject(valid ? new IpcRemoteError(error.code, error.message, status) : new IpcRemoteError('protocol', `HTTP ${status}`, status));
      }));
      // Cut off mid-answer (the window closed): as good as no answer.
      res.on('aborted', () => unavailable('connection closed'));
      res.on('error', () => unavailable('connection closed'));
    });
    // Not the `timeout` option: with createConnection node leaves that to the connection's creator.
    req.setTimeout(timeoutMs, () => unavailable('timed out'));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // "socket hang up": the other side closed before answering.
      unavailable(err.message === 'socket hang up' ? 'connection closed' : err.code ?? err.message);
    });
    req.end(payload);
  });
}
