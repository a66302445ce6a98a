// Reads one HTTP/1.1 answer incrementally, for jsonClient's raw socket: the status line, the
// headers, and a body framed by Content-Length, chunked transfer coding, or the end of the
// connection. Small on purpose: node:http's client costs the CLI ~7 ms of start-up per call.

/** The whole answer, or why it cannot be one. */
export type AnswerState =
  | { kind: 'more' }
  | { kind: 'done'; status: number; body: Buffer }
  | { kind: 'oversized'; status: number }
  | { kind: 'malformed' };

/** Bytes of a status line and headers; node's own client allows 16 KiB. */
const MAX_HEAD_BYTES = 16 * 1024;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

type Framing = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

export class HttpAnswer {
  private buffer: Buffer = Buffer.alloc(0);
  private status = 0;
  private framing: Framing | undefined;
  /** Chunked: the decoded body so far. */
  private chunks: Buffer[] = [];
  private decoded = 0;

  constructor(private readonly maxBodyBytes: number) {}

  /** Feeds received bytes; `done` once the body is complete. */
  push(data: Buffer): AnswerState {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, data]) : data;
    return this.advance();
  }

  /** The connection ended: an answer framed by it is complete now; any other is cut off. */
  end(): AnswerState | { kind: 'cut' } {
    if (this.framing?.kind === 'close') return { kind: 'done', status: this.status, body: this.buffer };
    return { kind: 'cut' };
  }

  private advance(): AnswerState {
    while (!this.framing) {
      const split = this.buffer.indexOf(HEAD_END);
      if (split < 0) return this.buffer.length > MAX_HEAD_BYTES ? { kind: 'malformed' } : { kind: 'more' };
      const head = parseHead(this.buffer.subarray(0, split).toString('latin1'));
      this.buffer = this.buffer.subarray(split + HEAD_END.length);
      if (!head) return { kind: 'malformed' };
      if (head.status >= 100 && head.status < 200) continue; // an interim answer (100 Continue): the real one follows
      this.status = head.status;
      this.framing = head.framing;
    }
    const framing = this.framing;
    if (framing.kind === 'length') {
      if (framing.length > this.maxBodyBytes) return { kind: 'oversized', status: this.status };
      if (this.buffer.length < framing.length) return { kind: 'more' };
      return { kind: 'done', status: this.status, body: this.buffer.subarray(0, framing.length) };
    }
    if (framing.kind === 'close') return this.buffer.length > this.maxBodyBytes ? { kind: 'oversized', status: this.status } : { kind: 'more' };
    return this.dechunk();
  }

  /** Chunked transfer coding (RFC 9112 §7.1): size line, data, CRLF; a zero size ends it (trailers ignored). */
  private dechunk(): AnswerState {
    for (;;) {
      const lineEnd = this.buffer.indexOf(CRLF);
      if (lineEnd < 0) return this.buffer.length > 1024 ? { kind: 'malformed' } : { kind: 'more' };
      const sizeText = this.buffer.subarray(0, lineEnd).toString('latin1').split(';')[0].trim();
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return { kind: 'malformed' };
      const size = parseInt(sizeText, 16);
      if (size === 0) {
        // The last chunk: the body is complete (trailers, if any, need not be awaited with Connection: close).
        return { kind: 'done', status: this.status, body: Buffer.concat(this.chunks, this.decoded) };
      }
      if (this.decoded + size > this.maxBodyBytes) return { kind: 'oversized', status: this.status };
      const dataStart = lineEnd + CRLF.length;
      if (this.buffer.length < dataStart + size + CRLF.length) return { kind: 'more' };
      if (!this.buffer.subarray(dataStart + size, dataStart + size + CRLF.length).equals(CRLF)) return { kind: 'malformed' };
      this.chunks.push(this.buffer.subarray(dataStart, dataStart + size));
      this.decoded += size;
      this.buffer = this.buffer.subarray(dataStart + size + CRLF.length);
    }
  }
}

/** The status line and the framing headers; undefined when it is not HTTP/1.x. */
function parseHead(head: string): { status: number; framing: Framing } | undefined {
  const lines = head.split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]);
  if (!statusLine) return undefined;
  const status = Number(statusLine[1]);
  let length: number | undefined;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value))) return undefined;
      length = Number(value);
    } else if (name === 'transfer-encoding') {
      chunked = value.toLowerCase().split(',').map((v) => v.trim()).at(-1) === 'chunked';
    }
  }
  // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3); 204 and 304 carry no body.
  if (status === 204 || status === 304) return { status, framing: { kind: 'length', length: 0 } };
  if (chunked) return { status, framing: { kind: 'chunked' } };
  return { status, framing: length === undefined ? { kind: 'close' } : { kind: 'length', length } };
}
