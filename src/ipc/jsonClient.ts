// The client half of jsonServer: one POST, JSON in and out, typed errors, bounded time.
import { connect } from 'node:net';
import { TokenRelayError, type ErrorCode } from '../core/errors.ts';
import { PROTOCOL_VERSION, type ErrorBody } from './wire.ts';

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
 * One POST `/v<PROTOCOL_VERSION>/<route>` over the socket, as HTTP/1.1 with `connection: close`.
 * Written on node:net rather than node:http: the peer is always our own jsonServer (answers carry a
 * content-length and close), and the `tokenrelay` CLI starts measurably faster without loading
 * the http client stack (its Agent also compiles net.isIP's large regular expression on first use).
 */
export function postJson<T>(socketPath: string, route: string, body: unknown, timeoutMs = 30_000): Promise<T> {
  const payload = Buffer.from(JSON.stringify(body ?? {}), 'utf8');
  const head = `POST /v${PROTOCOL_VERSION}/${route} HTTP/1.1\r\nhost: tokenrelay\r\ncontent-type: application/json\r\n`
    + `content-length: ${payload.length}\r\nconnection: close\r\n\r\n`;
  return new Promise<T>((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      fn();
    };
    /** The response once complete (or, at end of stream, whatever arrived); undefined while incomplete. */
    const response = (atEnd: boolean): { status: number; text: string } | undefined => {
      const all = Buffer.concat(chunks, received);
      const split = all.indexOf('\r\n\r\n');
      if (split < 0) return atEnd ? { status: 0, text: '' } : undefined;
      const header = all.subarray(0, split).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(header)?.[1] ?? 0);
      const length = /\r\ncontent-length: *(\d+)/i.exec(header)?.[1];
      const bodyBytes = all.subarray(split + 4);
      if (length === undefined) return atEnd ? { status, text: bodyBytes.toString('utf8') } : undefined;
      if (bodyBytes.length < Number(length)) return atEnd ? { status: 0, text: '' } : undefined;
      return { status, text: bodyBytes.subarray(0, Number(length)).toString('utf8') };
    };
    const finish = (r: { status: number; text: string }) => settle(() => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(r.text);
      } catch {
        return reject(new IpcRemoteError('protocol', 'The Token Relay window sent an unreadable answer.', r.status));
      }
      if (r.status === 200) return resolve(parsed as T);
      const error = (parsed as ErrorBody | null)?.error ?? { code: 'protocol', message: `HTTP ${r.status}` };
      reject(new IpcRemoteError(error.code, error.message, r.status));
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timed out')));
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(head, 'latin1'), payload])));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      const done = response(false);
      if (done) finish(done);
    });
    socket.on('end', () => {
      const done = response(true)!;
      if (done.status) finish(done);
      else settle(() => reject(new IpcUnavailableError(socketPath, 'connection closed')));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer (413, 408) and close while we still write: its answer wins.
      const done = received ? response(true) : undefined;
      if (done && done.status) finish(done);
      else settle(() => reject(new IpcUnavailableError(socketPath, err.code ?? err.message)));
    });
    socket.on('close', () => settle(() => reject(new IpcUnavailableError(socketPath, 'connection closed'))));
  });
}
