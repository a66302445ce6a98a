// `tokenrelay mcp-proxy URL` as an MCP client meets it: the SDK's own Client over
// StdioClientTransport launches the bundled CLI (node dist/cli.js mcp-proxy URL) with a terminal's
// environment, against an SDK Streamable-HTTP server that validates every token by introspection
// at the strict test IdP. The window is a real Broker behind its terminal socket.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { World } from '../harness/fixture.ts';
import { TEST_USER, asUser, readableCopy, runChild, runCli, startWindow, type TestWindow } from '../cli/support.ts';
import { waitFor } from '../support/wait.ts';
import { mcpBundle } from './bundle.ts';
import { startMcpServer, type ServerMode, type ServerOptions, type TestMcpServer } from './mcpServer.ts';

const TTL = 5;

/** A signed-in world: the strict IdP, a window (real Broker + terminal socket), and proxy launchers. */
interface Setup {
  world: World;
  win: TestWindow;
  /** tokenrelay.mcp.servers as the window reads it on each mcp-proxy start. */
  allowed: string[];
  close(): Promise<void>;
}

async function setUp(ttl: number): Promise<Setup> {
  const world = await World.create({ storeModel: 'shared-lag', ttl });
  await world.signInAccount();
  const allowed: string[] = [];
  const win = await startWindow(world, { mcpServers: () => allowed });
  return { world, win, allowed, close: async () => { await win.close(); await world.close(); } };
}

/** Starts a test MCP server the user listed in tokenrelay.mcp.servers (by its origin). */
async function listedServer(setup: Setup, mode?: ServerMode, options?: ServerOptions): Promise<TestMcpServer> {
  const server = await startMcpServer(setup.world.idp, mode, options);
  setup.allowed.push(new URL(server.url).origin);
  return server;
}

let cliJs: string;
before(async () => { cliJs = (await mcpBundle()).cliJs; });

let readableBundle: string | undefined;

/**
 * `tokenrelay mcp-proxy ARGS` as `user` with a clean environment (`env -i` plus `vars`), from a copy
 * of dist/cli.js, dist/mcp-proxy.js and dist/host.js that user can read, `input` on stdin (runCliAs, plus stdin).
 */
async function runProxyAs(user: { uid: number; gid: number }, args: string[], vars: Record<string, string>, input: string) {
  if (!readableBundle) {
    const { cliJs: js, relayJs } = await mcpBundle();
    readableBundle = join(readableCopy('/tmp/trm-', [js, relayJs, join(dirname(js), 'host.js')]), basename(js));
  }
  const [cmd, argv] = asUser(user, { PATH: process.env.PATH!, ...vars }, readableBundle, ['mcp-proxy', ...args]);
  return runChild(cmd, argv, { cwd: '/', timeoutMs: 30_000, input });
}

interface Proxy {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  /** The proxy process's argv and environment, read from /proc while it runs. */
  processText: () => string;
}

/** What an integrated terminal (or an MCP client started from one) passes on: no token, only the socket. */
function launch(win: TestWindow, url: string): { transport: StdioClientTransport; stderr: () => string } {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', TOKENRELAY_SOCK: win.server.socketPath };
  const transport = new StdioClientTransport({ command: process.execPath, args: [cliJs, 'mcp-proxy', url], env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  return { transport, stderr: () => stderr };
}

async function connect(win: TestWindow, url: string): Promise<Proxy> {
  const { transport, stderr } = launch(win, url);
  const client = new Client({ name: 'test-client', version: '1.0.0' }, { capabilities: { sampling: {} } });
  await client.connect(transport);
  const processText = () => ['cmdline', 'environ'].map((f) => readFileSync(`/proc/${transport.pid}/${f}`, 'utf8')).join('\n');
  return { client, transport, stderr, processText };
}

const whoami = async (p: Proxy) => {
  const result = await p.client.callTool({ name: 'whoami' });
  const content = result.content as { type: string; text: string }[];
  if (result.isError || content[0]?.text !== 'alice') throw new Error(`whoami answered ${JSON.stringify(result)}`);
};

const noStackTrace = (text: string) => assert.doesNotMatch(text, /^\s+at .+\(.*:\d+:\d+\)$/m, `no stack trace: ${text}`);

function assertNoTokenIn(world: World, haystacks: Record<string, string>): void {
  const issued = world.idp.issuedTokens();
  assert.ok(issued.length >= 2);
  for (const [where, text] of Object.entries(haystacks)) {
    for (const secret of issued) assert.ok(!text.includes(secret), `a token appeared in ${where}`);
  }
}

describe(`mcp-proxy relaying to a remote MCP server (${TTL} s tokens)`, () => {
  let setup: Setup;
  let world: World;
  let win: TestWindow;
  let server: TestMcpServer;
  before(async () => {
    setup = await setUp(TTL);
    ({ world, win } = setup);
    server = await listedServer(setup);
  });
  after(async () => {
    await server?.close();
    await setup?.close();
  });

  test(`two proxies calling in a loop across 3 expiries (${TTL} s tokens) and an early revocation: one refresh each, 0 failed calls, 0 revocations`, async () => {
    world.idp.resetCounters();
    const proxies = [await connect(win, server.url), await connect(win, server.url)];
    const failures: string[] = [];
    const calls = [0, 0];
    const processTexts: string[] = [];
    let stop = false;
    const loops = proxies.map(async (p, i) => {
      while (!stop) {
        await whoami(p).catch((err: Error) => { failures.push(err.message); });
        calls[i]++;
      }
    });
    try {
      // Revoked at the IdP while fresh (well before it expires): only the MCP server's 401 can tell.
      await waitFor('the first refreshed token in use', (TTL + 5) * 1000, () => server.seen.length >= 2);
      const revokedAt = Date.now();
      assert.ok(world.idp.revokeLatestAccessToken());
      await waitFor('three expiries and the revocation behind us', (3 * TTL + 8) * 1000, () => server.seen.length >= 5);
      processTexts.push(...proxies.map((p) => p.processText()));
      stop = true;
      await Promise.all(loops);

      assert.deepEqual(failures, []);
      assert.ok(calls.every((n) => n >= 20), `both proxies kept calling (${calls.join(', ')} calls)`);
      const counters = world.idp.counters();
      assert.equal(counters.grantRevocations, 0);
      assert.equal(counters.refreshGrants, 4, 'one refresh per expiry (3) and one for the revoked token');
      assert.equal(server.seen.length, counters.refreshGrants + 1, 'every refreshed token reached the server, none was wasted');
      // Which refresh was which, by the recorded revocation time rather than by margins of a second
      // on 5 s tokens: the revoked token is the last one first seen before it and its replacement the
      // next one; every other refresh is one at expiry.
      console.log(`# ${calls.join(' + ')} calls; tokens first seen at ${server.seen.map((t, i) => `${t.firstSeen - server.seen[0].firstSeen} ms (exp +${t.exp * 1000 - t.firstSeen})${i}`).join(', ')}; revoked at ${revokedAt - server.seen[0].firstSeen} ms`);
      const replacement = server.seen.findIndex((t) => t.firstSeen >= revokedAt);
      assert.equal(replacement, 2, 'before the revocation: the first token and its refresh at expiry; then the revoked one was replaced');
      const revoked = server.seen[replacement - 1];
      assert.ok(server.seen[replacement].firstSeen < revoked.exp * 1000, 'the revoked token was replaced before it expired');
      const atExpiry = server.seen.map((t, i) => ({ t, i })).filter(({ i }) => i > 0 && i !== replacement);
      assert.equal(atExpiry.length, 3, 'one refresh per expiry');
      // A refresh at expiry comes about TTL - 2 s after its predecessor was issued (exp - TTL, in whole
      // seconds); none came within 1 s of it, as only the revocation may make one come early.
      for (const { t, i } of atExpiry) {
        assert.ok(t.firstSeen >= (server.seen[i - 1].exp - TTL + 1) * 1000, `refresh ${i} came at expiry, not early`);
      }
      assert.ok(server.unauthorized >= 1, 'the revoked token was refused with 401 and replaced');
      assertNoTokenIn(world, { 'proxy 1 stderr': proxies[0].stderr(), 'proxy 2 stderr': proxies[1].stderr(), 'proxy argv/environment': processTexts.join('\n') });
    } finally {
      stop = true;
      await Promise.all(proxies.map((p) => p.client.close()));
    }
  });

  test('follows a 308 to the same origin (a moved endpoint), with the token', async () => {
    const p = await connect(win, server.url.replace(/\/mcp$/, '/moved'));
    try {
      await whoami(p);
    } finally {
      await p.client.close();
    }
  });

  test('relays server-to-client traffic both ways: a log notification and a sampling request during a tool call', async () => {
    const p = await connect(win, server.url);
    try {
      const logged: unknown[] = [];
      p.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logged.push(n.params.data); });
      p.client.setRequestHandler(CreateMessageRequestSchema, () => ({ model: 'test', role: 'assistant', content: { type: 'text', text: 'hi from the client' } }));
      const result = await p.client.callTool({ name: 'roundTrip' });
      assert.deepEqual(result.content, [{ type: 'text', text: 'hi from the client' }]);
      assert.deepEqual(logged, ['working on it']);
      const tools = await p.client.listTools();
      assert.deepEqual(tools.tools.map((t) => t.name).sort(), ['roundTrip', 'whoami']);
    } finally {
      await p.client.close();
    }
  });
});

describe('bad input: a clear error naming the problem and the fix; nothing stored changes', () => {
  // Tokens that outlive each test: any refresh seen here would be one the proxy caused.
  let setup: Setup;
  let world: World;
  let win: TestWindow;
  before(async () => {
    setup = await setUp(60);
    ({ world, win } = setup);
  });
  after(async () => { await setup?.close(); });

  test('a server that refuses every token: a clear error per request, and one refresh in all, not one per request', async () => {
    const refusing = await listedServer(setup, 'refuse-all');
    const { transport, stderr } = launch(win, refusing.url);
    world.idp.resetCounters();
    const answers: JSONRPCMessage[] = [];
    transport.onmessage = (m) => { answers.push(m); };
    try {
      await transport.start();
      for (let id = 1; id <= 3; id++) {
        await transport.send({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
        await waitFor(`answer ${id}`, 10_000, () => answers.length >= id);
      }
      for (const answer of answers) {
        assert.ok('error' in answer, JSON.stringify(answer));
        assert.match(answer.error.message, /refused the access token \(HTTP 401 Unauthorized\) even after a refresh \(the server said: wrong audience\)\. It may expect another audience or scopes: set tokenrelay\.resource, or pass --scopes\./);
      }
      assert.equal(world.idp.counters().refreshGrants, 1);
      assert.equal(world.idp.counters().grantRevocations, 0);
      assert.equal(refusing.unauthorized, 4, 'the first request: the token and its replacement; then one try each');
      await waitFor('the stderr line', 5000, () => /refused the access token/.test(stderr()));
      noStackTrace(stderr());
      assertNoTokenIn(world, { 'proxy stderr': stderr(), answers: JSON.stringify(answers) });
    } finally {
      await transport.close();
      await refusing.close();
    }
  });
  for (const [args, message] of [
    [['ftp://mcp.example.com/mcp'], /^tokenrelay: only http\(s\) URLs are supported, got ftp:\. Run "tokenrelay mcp-proxy --help" for usage\.\n$/],
    [['http://mcp.example.com/mcp'], /^tokenrelay: refusing to send a token over plain http to mcp\.example\.com; use https, or pass --allow-http\. Run "tokenrelay mcp-proxy --help" for usage\.\n$/],
    [['mcp.example.com/mcp'], /^tokenrelay: "mcp\.example\.com\/mcp" is not an absolute URL\. Run "tokenrelay mcp-proxy --help" for usage\.\n$/],
    [[], /^tokenrelay: mcp-proxy needs the URL of the MCP server\. Run "tokenrelay mcp-proxy --help" for usage\.\n$/],
    [['https://a.example/mcp', '--scopes', ' '], /^tokenrelay: --scopes needs at least one scope\. Run "tokenrelay mcp-proxy --help" for usage\.\n$/],
    [['https://a.example/mcp', '--max-answer-mib', '0'], /^tokenrelay: --max-answer-mib must be a number of MiB above 0 and at most 4096, got "0"\. Run "tokenrelay mcp-proxy --help" for usage\.\n$/],
  ] as const) {
    test(`mcp-proxy ${args.join(' ') || '(no URL)'} exits 2 before serving`, async () => {
      const r = await runCli(win.server.socketPath, ['mcp-proxy', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '', 'nothing on the MCP channel');
      assert.match(r.stderr, message);
    });
  }

  test('no Token Relay window: the initialize gets a JSON-RPC error naming the fix, and the proxy exits 0 once the client closes stdin', async () => {
    const server = await startMcpServer(world.idp);
    try {
      const initialize = { jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
      // As a user with no window anywhere and nothing in its socket directories (root's may hold other sessions' windows).
      const r = await runProxyAs(TEST_USER, [server.url], { HOME: '/nonexistent/home', XDG_RUNTIME_DIR: '/nonexistent/run', TOKENRELAY_SOCK: '/nonexistent/tokenrelay/term-0.sock' }, `${JSON.stringify(initialize)}\n`);
      assert.equal(r.code, 0, r.stderr);
      const answer = JSON.parse(r.stdout) as { id: number; error: { code: number; message: string } };
      assert.equal(answer.id, 7);
      assert.equal(answer.error.code, -32000);
      assert.match(answer.error.message, /^The VS Code window that started this terminal is gone \(nothing listens at .*\), no other Token Relay window or agent is running, and nothing is configured for use without one .*tokenrelay sign-in --issuer URL --client-id ID/);
      assert.equal(r.stderr, `tokenrelay mcp-proxy: ${answer.error.message}\n`);
      assert.equal(server.calls + server.unauthorized, 0, 'nothing reached the MCP server without a token');
    } finally {
      await server.close();
    }
  });

  /** The session the window holds: its token, account and generation (a new sign-in or refresh changes them). */
  const storedSession = () => {
    const { generation, expiresAt, account } = win.service.status();
    return { held: win.service.heldSessions(), generation, expiresAt, account };
  };
  const answers: [ServerMode, RegExp][] = [
    ['html', /answered a web page \(text\/html\) instead of MCP \(application\/json or text\/event-stream\)\. Check the URL: it must be the server's Streamable HTTP MCP endpoint/],
    ['not-found', /answered HTTP 404 Not Found to an MCP request, so it is not an MCP endpoint\. Check the URL/],
    ['not-json', /answered invalid JSON, so it is not an MCP server\. Check the URL/],
    ['not-json-rpc', /answered JSON that is not a JSON-RPC message, so it is not an MCP server\. Check the URL/],
    ['sign-in-redirect', /redirected the MCP request to https:\/\/login\.example\.com\/authorize \(HTTP 302\) instead of answering it, as a browser sign-in would\. Check the URL/],
  ];
  for (const [mode, message] of answers) {
    test(`a server answering ${mode}: the client's initialize fails with the reason and the fix, on stderr too`, async () => {
      const bad = await listedServer(setup, mode);
      const before = { stored: storedSession(), counters: world.idp.counters() };
      const { transport, stderr } = launch(win, bad.url);
      const client = new Client({ name: 'test-client', version: '1.0.0' });
      try {
        await assert.rejects(client.connect(transport), (err: Error) => {
          assert.match(err.message, message);
          assert.match(err.message, new RegExp(`The server at ${bad.url.replace(/[.]/g, '\\.')} `));
          return true;
        });
        await waitFor('the stderr line', 5000, () => message.test(stderr()));
        assert.match(stderr(), /^tokenrelay mcp-proxy: The server at /m);
        noStackTrace(stderr());
        const after = world.idp.counters();
        assert.equal(after.refreshGrants, before.counters.refreshGrants, 'no refresh');
        assert.equal(after.grantRevocations, 0);
        assert.deepEqual(storedSession(), before.stored, 'the stored session is unchanged');
      } finally {
        await client.close();
        await bad.close();
      }
    });
  }
});

describe('only the MCP servers the user named get the token (tokenrelay.mcp.servers, RFC 9728 metadata)', () => {
  let setup: Setup;
  let world: World;
  let win: TestWindow;
  before(async () => {
    setup = await setUp(60);
    ({ world, win } = setup);
  });
  after(async () => { await setup?.close(); });

  const initialize = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`;

  /** A repository's MCP configuration running `tokenrelay mcp-proxy URL`: what the proxy says and what the server got. */
  async function refused(server: TestMcpServer, url = server.url) {
    const r = await runCli(win.server.socketPath, ['mcp-proxy', url], { input: initialize });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '', 'the client gets nothing: the proxy stopped at start');
    noStackTrace(r.stderr);
    assert.doesNotMatch(server.received(), /authorization:/i, 'no bearer header reached the server');
    assertNoTokenIn(world, { 'server bytes': server.received(), 'proxy stderr': r.stderr });
    return r.stderr;
  }

  for (const [what, listed] of [['unset', () => []], ['listing only other servers', () => ['https://mcp.example.com', 'http://127.0.0.1:1']]] as const) {
    test(`an unlisted origin, tokenrelay.mcp.servers ${what}: refused at start naming the setting, 0 bytes reach the server`, async () => {
      const server = await startMcpServer(world.idp);
      setup.allowed.splice(0, Infinity, ...listed());
      try {
        const stderr = await refused(server);
        const where = server.url.replace(/[.]/g, '\\.');
        assert.match(stderr, listed().length
          ? new RegExp(`^tokenrelay mcp-proxy: Not connecting: ${where} is not in tokenrelay\\.mcp\\.servers \\(https://mcp\\.example\\.com, http://127\\.0\\.0\\.1:1\\); add "${new URL(server.url).origin.replace(/[.]/g, '\\.')}" \\(or a URL prefix such as "${where}"\\) to tokenrelay\\.mcp\\.servers in your VS Code user settings`)
          : new RegExp(`^tokenrelay mcp-proxy: Not connecting: tokenrelay\\.mcp\\.servers lists no MCP server, so ${where} gets no token; add `));
        assert.equal(server.received().length, 0, '0 bytes reached the unlisted server');
        assert.deepEqual(server.requests, []);
      } finally {
        await server.close();
      }
    });
  }

  test('a listed URL prefix that does not cover the URL: refused, 0 bytes reach the server', async () => {
    const server = await startMcpServer(world.idp);
    setup.allowed.splice(0, Infinity, `${new URL(server.url).origin}/other/`);
    try {
      assert.match(await refused(server), /is not in tokenrelay\.mcp\.servers/);
      assert.equal(server.received().length, 0);
    } finally {
      await server.close();
    }
  });

  const metadataCases: [string, Record<string, unknown>, RegExp][] = [
    ['names another resource', { resource: 'https://elsewhere.example/mcp', authorization_servers: ['ISSUER'] },
      /^tokenrelay mcp-proxy: The MCP server at http:\/\/127\.0\.0\.1:\d+\/mcp describes itself as the resource "https:\/\/elsewhere\.example\/mcp" \(RFC 9728 metadata at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp\), which is not this URL, so it gets no token\. Check the URL/],
    ['trusts another authorization server', { resource: 'ORIGIN/mcp', authorization_servers: ['https://other-idp.example'] },
      /^tokenrelay mcp-proxy: The MCP server at http:\/\/127\.0\.0\.1:\d+\/mcp accepts tokens from "https:\/\/other-idp\.example" \(RFC 9728 metadata at .*\), not from http:\/\/127\.0\.0\.1:\d+.*, your tokenrelay\.issuer, so it gets no token\./],
  ];
  for (const [what, metadata, message] of metadataCases) {
    test(`a listed server whose RFC 9728 metadata ${what}: refused and named; only the unauthenticated metadata request reached it`, async () => {
      const server = await listedServer(setup, 'mcp', { metadata: JSON.parse(JSON.stringify(metadata).replace('ISSUER', world.idp.issuer)) });
      try {
        assert.match(await refused(server), message);
        assert.deepEqual(server.requests, ['GET /.well-known/oauth-protected-resource/mcp']);
      } finally {
        await server.close();
      }
    });
  }

  test('a listed server whose metadata names this URL and our issuer gets the token', async () => {
    const server = await listedServer(setup, 'mcp', { metadata: { resource: 'ORIGIN/mcp', authorization_servers: [world.idp.issuer] } });
    const p = await connect(win, server.url);
    try {
      await whoami(p);
      assert.equal(server.requests[0], 'GET /.well-known/oauth-protected-resource/mcp');
    } finally {
      await p.client.close();
      await server.close();
    }
  });
});

test('the MCP SDK stays out of dist/cli.js: every other command starts without parsing it', async () => {
  const { cliJs: cli, relayJs } = await mcpBundle();
  const [cliText, relayText] = [readFileSync(cli, 'utf8'), readFileSync(relayJs, 'utf8')];
  for (const marker of ['mcp-session-id', 'text/event-stream']) {
    assert.ok(relayText.includes(marker), `the relay bundle has the SDK (${marker})`);
    assert.ok(!cliText.includes(marker), `dist/cli.js has no SDK code (${marker})`);
  }
  // Far below the SDK's size (hundreds of KiB): the commands' own code only (profiles and --resource took it past 64 KiB).
  assert.ok(cliText.length < 72 * 1024, `dist/cli.js is ${cliText.length} bytes`);
});
