import type { Logger } from './types.ts';

// Besides known tokens, anything shaped like a JWT or a long opaque token is masked.
const JWT = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const OPAQUE = /(?<![\w/.-])[A-Za-z0-9_-]{32,}(?![\w/.-])/g;
const REMEMBERED = 64;

export class Redactor {
  private readonly known: string[] = [];

  /** Tokens seen by this process; the newest few are masked verbatim wherever they appear. */
  remember(...tokens: (string | undefined)[]): void {
    for (const token of tokens) {
      if (!token || token.length < 8 || this.known.includes(token)) continue;
      this.known.push(token);
      if (this.known.length > REMEMBERED) this.known.shift();
    }
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.known) out = out.split(secret).join('[redacted]');
    return out.replace(JWT, '[redacted-jwt]').replace(OPAQUE, '[redacted]');
  }
}

export const redactor = new Redactor();

/** Wraps a logger so no token value can reach it, whatever a caller passes. */
export function redactingLogger(inner: Logger, by: Redactor = redactor): Logger {
  const wrap = (fn: (m: string) => void) => (message: string) => fn(by.redact(message));
  return {
    trace: wrap((m) => inner.trace(m)),
    debug: wrap((m) => inner.debug(m)),
    info: wrap((m) => inner.info(m)),
    warn: wrap((m) => inner.warn(m)),
    error: wrap((m) => inner.error(m)),
  };
}

export const silentLogger: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
