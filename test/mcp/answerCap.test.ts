// The SSE event cap on its own: whole events pass as they came, whatever the chunking; an event
// past the cap is left out (its id kept), once each; a JSON body past the cap is not read on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cappedEvents, readCappedText } from '../../src/cli/mcp/answerCap.ts';

async function run(text: string, chunkSize: number, cap: number): Promise<{ out: string; overflows: number }> {
  const bytes = Buffer.from(text);
  let overflows = 0;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.byteLength; i += chunkSize) controller.enqueue(bytes.subarray(i, i + chunkSize));
      controller.close();
    },
  });
  const out: Buffer[] = [];
  for await (const chunk of cappedEvents(body, cap, () => { overflows++; })) out.push(Buffer.from(chunk));
  return { out: Buffer.concat(out).toString(), overflows };
}

test('events within the cap pass unchanged; one past it is dropped but for its id, and counted once; any chunking, LF, CRLF or CR', async () => {
  const big = 'x'.repeat(100);
  const text = `id: 1\ndata: a\n\nid: 2\ndata: ${big}\ndata: ${big}\n\n: keepalive\r\n\r\ndata: b\r\n\r\nevent: message\rdata: ${big}\r\rdata: c\n\n`;
  const expected = 'id: 1\ndata: a\n\nid: 2\n\n: keepalive\r\n\r\ndata: b\r\n\r\ndata: c\n\n';
  for (const chunkSize of [1, 2, 3, 5, 7, 64, 4096]) {
    const { out, overflows } = await run(text, chunkSize, 50);
    assert.equal(out.replace(/\r\n?/g, '\n'), expected.replace(/\r\n?/g, '\n'), `chunks of ${chunkSize}`);
    assert.equal(overflows, 2, `chunks of ${chunkSize}`);
  }
  assert.deepEqual(await run(text, 3, 10_000), { out: text, overflows: 0 }, 'nothing changes under a large cap');
});

test('a JSON body past the cap: undefined, and the rest is not read', async () => {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(1024));
    },
  });
  assert.equal(await readCappedText(new Response(body), 10 * 1024), undefined);
  assert.ok(pulled < 20, `${pulled} chunks read of an endless body`);
  assert.equal(await readCappedText(new Response('{"a":1}'), 7), '{"a":1}');
});
