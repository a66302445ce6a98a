// mcp-proxy start-up as an MCP client sees it: from launching `tokenrelay mcp-proxy URL` (through the
// sh launcher, as a client finds it on PATH) to the initialize result, against the same client
// connecting to the server directly with a bearer token, and `node -e 0`. Interleaved rounds, medians.
//   node --import tsx test/mcp/startup.ts [--rounds N]     prints one JSON object
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { World } from '../harness/fixture.ts';
import { median, startWindow } from '../cli/support.ts';
import { mcpBundle } from './bundle.ts';
import { startMcpServer } from './mcpServer.ts';

export interface McpStartup {
  rounds: number;
  proxyInitializeMs: number;
  directInitializeMs: number;
  nodeMs: number;
  cliBytes: number;
  relayBytes: number;
}

async function timeInitialize(transport: StdioClientTransport | StreamableHTTPClientTransport): Promise<number> {
  const started = performance.now();
  const client = new Client({ name: 'startup', version: '1.0.0' });
  await client.connect(transport);
  const ms = performance.now() - started;
  await client.close();
  return ms;
}

export async function measureMcpStartup(rounds = 20): Promise<McpStartup> {
  const bundle = await mcpBundle();
  const world = await World.create({ storeModel: 'shared-lag', ttl: 600 });
  try {
    await world.signInAccount();
    const server = await startMcpServer(world.idp);
    const win = await startWindow(world, { mcpServers: () => [new URL(server.url).origin] });
    try {
      const token = (await win.service.getToken()).accessToken;
      const env = { PATH: `${bundle.binDir}:${process.env.PATH}`, HOME: process.env.HOME ?? '/', TOKENRELAY_SOCK: win.server.socketPath };
      const proxy: number[] = [];
      const direct: number[] = [];
      const node: number[] = [];
      for (let i = 0; i < rounds; i++) {
        proxy.push(await timeInitialize(new StdioClientTransport({ command: 'tokenrelay', args: ['mcp-proxy', server.url], env })));
        direct.push(await timeInitialize(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } })));
        const started = performance.now();
        spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore' });
        node.push(performance.now() - started);
      }
      const round1 = (n: number) => Math.round(n * 10) / 10;
      return {
        rounds,
        proxyInitializeMs: round1(median(proxy)),
        directInitializeMs: round1(median(direct)),
        nodeMs: round1(median(node)),
        cliBytes: statSync(bundle.cliJs).size,
        relayBytes: statSync(bundle.relayJs).size,
      };
    } finally {
      await server.close();
      await win.close();
    }
  } finally {
    await world.close();
  }
}

if (require.main === module) {
  const i = process.argv.indexOf('--rounds');
  measureMcpStartup(i > 0 ? Number(process.argv[i + 1]) : undefined).then(
    (result) => { console.log(JSON.stringify(result)); process.exit(0); },
    (err: Error) => { console.error(err.message); process.exit(1); },
  );
}
