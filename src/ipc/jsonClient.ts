// The client half of jsonServer: one POST, JSON in and out, typed errors, bounded time.
import { request } from 'node:http';
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

export function postJson<T>(socketPath: string, route: string, body: unknown, timeoutMs = 30_000): Promise<T> {
  const payload = JSON.stringify(body ?? {});
  return new Promise<T>((resolve, reject) => {
    const req = request({
      socketPath,
      path: `/v${PROTOCOL_VERSION}/${route}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new IpcUnavailableError(socketPath, err.message)));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return reject(new IpcRemoteError('protocol', 'The Token Relay window sent an unreadable answer.', res.statusCode ?? 0));
        }
        if (res.statusCode === 200) return resolve(parsed as T);
        const error = (parsed as ErrorBody).error ?? { code: 'protocol', message: `HTTP ${res.statusCode}` };
        reject(new IpcRemoteError(error.code, error.message, res.statusCode ?? 0));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new IpcUnavailableError(socketPath, err.code ?? err.message)));
    req.end(payload);
  });
}
