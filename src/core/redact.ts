import type { Logger } from './types.ts';

// The one redaction path: every text that may carry a token (server error bodies, logs, status
// files, IPC error bodies, CLI output, notifications) passes `redactor.redact` before it leaves
// the process or reaches disk. Besides the tokens this process knows (remembered verbatim, any
// length from 8 chars), anything shaped like a JWT or a long opaque token is masked.
const JWT = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
// Not inside a path or file name; a token that ends a sentence ("…token abc….") is still caught.
const OPAQUE = /(?<![\w/.-])[A-Za-z0-9_-]{32,}(?![\w/-]|\.\w)/g;
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

  redact(text: string): string;
  redact(text: string | undefined): string | undefined;
  redact(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    let out = text;
    for (const secret of this.known) out = out.split(secret).join('[redacted]');
    return out.replace(JWT, '[redacted-jwt]').replace(OPAQUE, '[redacted]');
  }
}

/**
 * One per process, even across bundles: mcp-proxy's relay bundle is loaded into the CLI's process,
 * and a token either of them learns must be masked by both.
 */
const shared = globalThis as { tokenrelayRedactor?: Redactor };
export const redactor: Redactor = (shared.tokenrelayRedactor ??= new Redactor());

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
