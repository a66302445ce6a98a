// Bounds on what one MCP answer may make the proxy hold: a JSON body, or one event of an SSE stream,
// of at most `cap` bytes. The SDK reads a whole body or event into memory before looking at it, so
// a server (or anything between) sending 300 MB would otherwise cost that much and more, and the
// request would hang. An answer past the cap is dropped while it streams past; only the request it
// answered gets an error, and the session goes on.

export const DEFAULT_MAX_ANSWER_MIB = 16;
const CR = 0x0d;
const LF = 0x0a;
/** An `id:` line longer than this is not kept: a resumption token is short. */
const MAX_ID_LINE = 1024;

/** The body as text, or undefined when it is larger than `cap` bytes (the rest is not read). */
export async function readCappedText(res: Response, cap: number): Promise<string | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  if (!reader) return '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The SSE body with every event longer than `cap` bytes left out, `overflow` called once for each.
 * Events are passed on whole, so the SDK's parser never holds more than one capped event. An
 * oversized event's `id:` still goes through (as an event without data), so a resumed stream
 * continues after it instead of sending it again.
 */
export function cappedEvents(body: ReadableStream<Uint8Array>, cap: number, overflow: () => void): ReadableStream<Uint8Array> {
  let event: Uint8Array[] = [];
  let size = 0;
  let skipping = false;
  let lineLength = 0;
  /** The start of the current line, up to MAX_ID_LINE bytes: enough to see an `id:` field. */
  let lineHead: Uint8Array[] = [];
  let headLength = 0;
  let eventId: string | undefined;
  /** The previous chunk ended in CR: an LF starting this one belongs to that line end. */
  let pendingCR = false;

  const keep = (bytes: Uint8Array) => {
    if (skipping || bytes.byteLength === 0) return;
    event.push(bytes);
    size += bytes.byteLength;
    if (size <= cap) return;
    skipping = true;
    event = [];
    size = 0;
    overflow();
  };
  const noteHead = (bytes: Uint8Array) => {
    if (headLength > MAX_ID_LINE || bytes.byteLength === 0) return;
    lineHead.push(bytes.subarray(0, MAX_ID_LINE + 1 - headLength));
    headLength += Math.min(bytes.byteLength, MAX_ID_LINE + 1 - headLength);
  };
  const endLine = () => {
    if (headLength <= MAX_ID_LINE) {
      const line = Buffer.concat(lineHead).toString('utf8');
      if (line === 'id' || line.startsWith('id:')) eventId = line.slice(3).replace(/^ /, '');
    }
    lineHead = [];
    headLength = 0;
    lineLength = 0;
  };
  const endEvent = (controller: TransformStreamDefaultController<Uint8Array>, blank: Uint8Array) => {
    if (!skipping) {
      event.push(blank);
      controller.enqueue(Buffer.concat(event));
    } else if (eventId !== undefined && !/[\r\n\0]/.test(eventId)) {
      controller.enqueue(Buffer.from(`id: ${eventId}\n\n`));
    }
    event = [];
    size = 0;
    skipping = false;
    eventId = undefined;
  };

  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      let i = 0;
      if (pendingCR && chunk[0] === LF) {
        keep(chunk.subarray(0, 1));
        i = 1;
      }
      pendingCR = false;
      while (i < chunk.byteLength) {
        const lf = chunk.indexOf(LF, i);
        const cr = chunk.indexOf(CR, i);
        const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
        if (end === -1) {
          const rest = chunk.subarray(i);
          noteHead(rest);
          lineLength += rest.byteLength;
          keep(rest);
          break;
        }
        const crlf = chunk[end] === CR && chunk[end + 1] === LF;
        if (chunk[end] === CR && end + 1 === chunk.byteLength) pendingCR = true;
        const next = end + (crlf ? 2 : 1);
        const blank = lineLength === 0 && end === i;
        noteHead(chunk.subarray(i, end));
        lineLength += end - i;
        if (blank) {
          endLine();
          endEvent(controller, chunk.subarray(end, next));
        } else {
          keep(chunk.subarray(i, next));
          endLine();
        }
        i = next;
      }
    },
    flush(controller) {
      // A last event without its blank line: SSE drops it anyway; passed on as it came.
      if (!skipping && size) controller.enqueue(Buffer.concat(event));
    },
  }));
}
