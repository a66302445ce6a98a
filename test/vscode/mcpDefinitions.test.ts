// The MCP server definition provider VS Code's own MCP client reads (VS Code 1.101+), with the fake
// `vscode`: what each definition runs, that no token is in it, user settings only, the change
// event, and VS Code 1.100 (no API: a log line, nothing else).
import './setup.ts';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fake, type FakeLogChannel } from './fake/vscode.ts';
import * as fakeVscode from './fake/vscode.ts';
import { World } from './helpers.ts';
import { MCP_PROVIDER_ID, registerMcpDefinitions } from '../../src/vscode/mcpDefinitions.ts';
import type { Logger } from '../../src/core/types.ts';

const EXT = '/opt/ext/tokenrelay.tokenrelay-0.1.0';
const SOCK = '/run/user/1000/tokenrelay/term-123.sock';

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => { lines.push(`[${level}] ${m}`); };
  return { lines, trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const provider = () => {
  const entry = fake.mcpProviders.at(-1);
  assert.ok(entry, 'a provider is registered');
  return entry;
};
const provide = async () => [...await provider().provider.provideMcpServerDefinitions({})];

beforeEach(() => fake.reset());

describe('MCP server definitions', () => {
  let registration: { dispose(): void } | undefined;
  afterEach(() => { registration?.dispose(); registration = undefined; });

  test('each configured server runs the bundled mcp-proxy with VS Code\'s runtime; env holds the socket path and no token', async () => {
    fake.setSettings({
      'tokenrelay.mcp.servers': ['https://mcp.example.com/mcp', 'https://*.corp.example'],
      'tokenrelay.profiles': { work: { mcp: { servers: ['https://mcp.work.example/mcp'] } } },
    });
    const log = recorder();
    registration = registerMcpDefinitions({ extensionPath: EXT, socketPath: () => SOCK, runtime: '/opt/code/code', log });
    assert.equal(provider().id, MCP_PROVIDER_ID);
    const defs = await provide();
    assert.ok(defs.every((d) => d instanceof fakeVscode.McpStdioServerDefinition));
    assert.deepEqual(defs.map((d) => ({ label: d.label, command: d.command, args: d.args, env: d.env })), [
      { label: 'mcp.example.com/mcp', command: '/opt/code/code', args: [join(EXT, 'dist', 'cli.js'), 'mcp-proxy', 'https://mcp.example.com/mcp'],
        env: { ELECTRON_RUN_AS_NODE: '1', TOKENRELAY_SOCK: SOCK } },
      { label: 'mcp.work.example/mcp (work)', command: '/opt/code/code', args: [join(EXT, 'dist', 'cli.js'), 'mcp-proxy', 'https://mcp.work.example/mcp', '--profile', 'work'],
        env: { ELECTRON_RUN_AS_NODE: '1', TOKENRELAY_SOCK: SOCK } },
    ]);
    // Resolving adds nothing: the proxy fetches the token itself.
    const resolved = await provider().provider.resolveMcpServerDefinition!(defs[0], {});
    assert.equal(resolved, defs[0]);
    assert.deepEqual(resolved.env, { ELECTRON_RUN_AS_NODE: '1', TOKENRELAY_SOCK: SOCK });
    // The wildcard is named once, however often VS Code asks.
    await provide();
    const wildcard = log.lines.filter((l) => l.includes('"https://*.corp.example" names a wildcard host'));
    assert.equal(wildcard.length, 1, log.lines.join('\n'));
    assert.match(wildcard[0], /^\[warn\]/);
  });

  test('without the terminal socket the env has only ELECTRON_RUN_AS_NODE; the default runtime is VS Code\'s own', async () => {
    fake.setSettings({ 'tokenrelay.mcp.servers': ['http://127.0.0.1:8080/mcp'] });
    registration = registerMcpDefinitions({ extensionPath: EXT, socketPath: () => undefined, log: recorder() });
    const [def] = await provide();
    assert.equal(def.command, process.execPath);
    assert.deepEqual(def.env, { ELECTRON_RUN_AS_NODE: '1' });
  });

  test('a workspace\'s tokenrelay.mcp.servers is never offered: user settings only', async () => {
    fake.workspaceSettings.set('tokenrelay.mcp.servers', ['https://attacker.example/mcp']);
    fake.workspaceSettings.set('tokenrelay.profiles', { x: { mcp: { servers: ['https://attacker.example/mcp'] } } });
    registration = registerMcpDefinitions({ extensionPath: EXT, socketPath: () => SOCK, log: recorder() });
    assert.deepEqual(await provide(), []);
  });

  test('a change of a tokenrelay setting fires onDidChangeMcpServerDefinitions and the list follows it; other settings do not', async () => {
    fake.setSettings({ 'tokenrelay.mcp.servers': ['https://a.example/mcp'] });
    registration = registerMcpDefinitions({ extensionPath: EXT, socketPath: () => SOCK, log: recorder() });
    let fired = 0;
    provider().provider.onDidChangeMcpServerDefinitions!(() => { fired++; });
    assert.deepEqual((await provide()).map((d) => d.label), ['a.example/mcp']);
    fake.setSettings({ 'editor.fontSize': 14 });
    assert.equal(fired, 0);
    fake.setSettings({ 'tokenrelay.mcp.servers': ['https://a.example/mcp', 'https://b.example/mcp'] });
    assert.equal(fired, 1);
    assert.deepEqual((await provide()).map((d) => d.label), ['a.example/mcp', 'b.example/mcp']);
    fake.setSettings({ 'tokenrelay.mcp.servers': ['https://b.example/mcp'] });
    assert.equal(fired, 2);
    assert.deepEqual((await provide()).map((d) => d.label), ['b.example/mcp']);
    registration.dispose();
    assert.ok(provider().disposed);
    fake.setSettings({ 'tokenrelay.mcp.servers': [] });
    assert.equal(fired, 2, 'no event after dispose');
  });

  test('VS Code 1.100 (no MCP definition API, or only the proposed one, which throws): nothing registered, no error, one log line', () => {
    for (const api of [false, 'proposed'] as const) {
      fake.mcpApi = api;
      const log = recorder();
      registration = registerMcpDefinitions({ extensionPath: EXT, socketPath: () => SOCK, log });
      assert.equal(fake.mcpProviders.length, 0);
      assert.deepEqual(log.lines.filter((l) => !l.startsWith('[info]')), []);
      assert.equal(log.lines.length, 1, log.lines.join('\n'));
      assert.match(log.lines[0], /has no MCP server definition API \(VS Code 1\.101 or later\)/);
      if (api === 'proposed') assert.match(log.lines[0], /CANNOT use API proposal/);
      registration.dispose();
    }
  });

  test('the extension registers it at activation, under the id package.json contributes; on 1.100 it still activates', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.deepEqual(pkg.contributes.mcpServerDefinitionProviders, [{ id: MCP_PROVIDER_ID, label: 'Token Relay' }]);
    assert.ok(pkg.activationEvents.includes(`onMcpCollection:${MCP_PROVIDER_ID}`));
    const world = new World('isolated');
    try {
      fake.setSettings({ 'tokenrelay.mcp.servers': ['https://mcp.example.com/mcp'] });
      await world.openWindow();
      assert.equal(provider().id, MCP_PROVIDER_ID);
      assert.deepEqual((await provide()).map((d) => d.args.slice(1)), [['mcp-proxy', 'https://mcp.example.com/mcp']]);
      fake.mcpApi = 'proposed';
      const old = await world.openWindow();
      assert.equal(fake.mcpProviders.length, 1, 'no second provider on 1.100');
      assert.match((old.channel as FakeLogChannel).text, /\[info\] This VS Code \([\d.]+\) has no MCP server definition API/);
    } finally {
      await world.close();
    }
  });
});
