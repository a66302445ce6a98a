// Issue 19, item 3: a 300 MB answer, as one JSON body and as one SSE event, through mcp-proxy. The
// proxy drops it as it streams past, the request gets a JSON-RPC error naming the cap, the next
// request in the same session is answered, and the proxy's peak memory (VmHWM from /proc) stays
// far below the answer's size. Before, 300 MB of JSON drove it to 2.5 GB with no answer.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { World } from '../harness/fixture.ts';
import { startWindow, type TestWindow } from '../cli/support.ts';
import { mcpBundle } from './bundle.ts';

const HUGE = 300 * 1024 * 1024;
/** Far below the answer; the proxy's own start-up (Node, the SDK) is about 60 MB of it. */
const PEAK_BOUND_MB = 160;

/** A stateless Streamable-HTTP MCP server whose tools answer 300 MB, or a few bytes. */
function startHugeServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => { handle(req, res).catch(() => res.destroy()); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    resolve({
      url: `http://127.0.0.1:${port}/mcp`,
      close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
    });
  }));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST' || req.url !== '/mcp') return void res.writeHead(req.method === 'GET' ? 405 : 404).end();
  let text = '';
  for await (const chunk of req) text += chunk;
  const message = JSON.parse(text) as { id?: number; method: string; params?: { protocolVersion?: string; name?: string } };
  if (message.id === undefined) return void res.writeHead(202).end();
  const answer = (result: unknown) => JSON.stringify({ jsonrpc: '2.0', id: message.id, result });
  if (message.method === 'initialize') {
    return void res.writeHead(200, { 'content-type': 'application/json' })
      .end(answer({ protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'huge', version: '1' } }));
  }
  const name = message.params?.name;
  if (name === 'small') return void res.writeHead(200, { 'content-type': 'application/json' }).end(answer({ content: [{ type: 'text', text: 'small' }] }));
  // {"jsonrpc":"2.0","id":N,"result":{"content":[{"type":"text","text":"xxx…"}]}} with 300 MB of x.
  const [head, tail] = answer({ content: [{ type: 'text', text: '@' }] }).split('@');
  if (name === 'hugeJson') {
    res.writeHead(200, { 'content-type': 'application/json' });
    await stream(res, head, tail);
  } else {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'before' } })}\n\n`);
    await stream(res, `id: e1\nevent: message\ndata: ${head}`, `${tail}\n\n`);
  }
  res.end();
}

/** `head`, 300 MB of "x", `tail`, written as the client reads (never held in memory). */
async function stream(res: ServerResponse, head: string, tail: string): Promise<void> {
  const block = Buffer.alloc(1024 * 1024, 'x');
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  res.write(head);
  for (let sent = 0; sent < HUGE && !res.destroyed; sent += block.byteLength) {
    if (!res.write(block)) await Promise.race([new Promise((resolve) => res.once('drain', resolve)), closed]);
  }
  if (!res.destroyed) res.write(tail);
}

let world: World;
let win: TestWindow;
let huge: Awaited<ReturnType<typeof startHugeServer>>;
before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 600 });
  await world.signInAccount();
  huge = await startHugeServer();
  win = await startWindow(world, { mcpServers: () => [new URL(huge.url).origin] });
});
after(async () => {
  await huge?.close();
  await win?.close();
  await world?.close();
});

test('300 MB as one JSON answer and as one SSE event: each request gets an error naming the cap, the session goes on, the proxy\'s peak memory stays bounded', { timeout: 180_000 }, async () => {
  const { cliJs } = await mcpBundle();
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', TOKENRELAY_SOCK: win.server.socketPath };
  const transport = new StdioClientTransport({ command: process.execPath, args: [cliJs, 'mcp-proxy', huge.url], env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  await client.connect(transport);
  try {
    const small = async () => assert.deepEqual((await client.callTool({ name: 'small' })).content, [{ type: 'text', text: 'small' }]);
    const cap = /^MCP error -32000: The MCP server at http:\/\/127\.0\.0\.1:\d+\/mcp sent (a JSON answer|an event) larger than 16 MiB, the most one answer may be \(raise it with --max-answer-mib\); it was dropped, and the request it answered gets this error instead\. The session goes on\.$/;
    const peakMbNow = () => Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${transport.pid}/status`, 'utf8'))![1]) / 1024;
    await small();
    const startPeakMb = peakMbNow();
    await assert.rejects(client.callTool({ name: 'hugeJson' }, undefined, { timeout: 120_000 }), (err: Error) => { assert.match(err.message, cap); assert.match(err.message, /a JSON answer/); return true; });
    await small();
    await assert.rejects(client.callTool({ name: 'hugeSse' }, undefined, { timeout: 120_000 }), (err: Error) => { assert.match(err.message, cap); assert.match(err.message, /an event/); return true; });
    await small();
    const peakMb = peakMbNow();
    console.log(`# mcp-proxy peak memory (VmHWM): ${startPeakMb.toFixed(1)} MB after a small call, ${peakMb.toFixed(1)} MB after 2 x 300 MB answers`);
    assert.ok(peakMb < PEAK_BOUND_MB, `peak ${peakMb.toFixed(1)} MB`);
    assert.match(stderr, /sent a JSON answer larger than 16 MiB/);
    assert.match(stderr, /sent an event larger than 16 MiB/);
  } finally {
    await client.close();
  }
});
