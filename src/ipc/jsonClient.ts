// The client half of jsonServer: one POST, JSON in and out, typed errors, bounded time.
import { connect } from 'node:net';
import { TokenRelayError, type ErrorCode } from '../core/errors.ts';
import { HttpAnswer } from './httpAnswer.ts';
import { PROTOCOL_VERSION, type ErrorBody } from './wire.ts';

/** An answer larger than this is not one of ours (the biggest, status, is well under 4 KiB). */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class IpcUnavailableError extends Error {
  constructor(readonly socketPath: string, readonly reason: string) {
    super(`No Token Relay window or agent answers at ${socketPath} (${reason}).`);
  }
}

/** A structured error from the other side (e.g. not-signed-in), keeping its code. */
export class IpcRemoteError extends TokenRelayError {
  constructor(code: string, message: string, readonly status: number) {
    super(code as ErrorCode, message);
  }
}

/**
 * One POST `/v<PROTOCOL_VERSION>/<route>` over the socket, one connection per call
 * (`Connection: close`), speaking HTTP/1.1 on a raw node:net socket: loading and setting up
 * node:http's client cost the CLI about 7 ms per start, more than the window takes to answer.
 * `timeoutMs` bounds each silence on the socket (connect, the host's handling, the answer).
 */
export function postJson<T>(socketPath: string, route: string, body: unknown, timeoutMs = 30_000): Promise<T> {
  const payload = Buffer.from(JSON.stringify(body ?? {}), 'utf8');
  const head = `POST /v${PROTOCOL_VERSION}/${route} HTTP/1.1\r\nHost: tokenrelay\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${payload.length}\r\nConnection: close\r\n\r\n`;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      fn();
    };
    const unavailable = (reason: string) => settle(() => reject(new IpcUnavailableError(socketPath, reason)));
    const answer = new HttpAnswer(MAX_ANSWER_BYTES);
    const socket = connect(socketPath);
    socket.setTimeout(timeoutMs, () => unavailable('timed out'));
    // Not end(): node:http's server aborts a request whose client half-closes before the answer.
    socket.once('connect', () => socket.write(Buffer.concat([Buffer.from(head, 'latin1'), payload])));
    socket.on('data', (data: Buffer) => {
      const state = answer.push(data);
      if (state.kind === 'done') settle(() => finish(state.status, state.body, resolve, reject));
      else if (state.kind === 'oversized') settle(() => reject(new IpcRemoteError('protocol', 'The Token Relay window or agent sent an oversized answer.', state.status)));
      else if (state.kind === 'malformed') settle(() => reject(new IpcRemoteError('protocol', 'The Token Relay window or agent sent an answer that is not HTTP/1.1.', 0)));
    });
    socket.on('end', () => {
      const state = answer.end();
      // Closed before or in the middle of the answer (the window closed): as good as no answer.
      if (state.kind === 'done') settle(() => finish(state.status, state.body, resolve, reject));
      else unavailable('connection closed');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => unavailable(err.code ?? err.message));
    socket.on('close', () => unavailable('connection closed'));
  });
}

/** A complete answer: the value (200), or the host's structured error. */
function finish<T>(status: number, body: Buffer, resolve: (value: T) => void, reject: (err: Error) => void): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return reject(new IpcRemoteError('protocol', 'The Token Relay window or agent sent an unreadable answer.', status));
  }
  if (status === 200) return resolve(parsed as T);
  const error = (parsed as ErrorBody | null)?.error;
  const valid = typeof error?.code === 'string' && typeof error.message === 'string';
  reject(valid ? new IpcRemoteError(error.code, error.message, status) : new IpcRemoteError('protocol', `HTTP ${status}`, status));
}
