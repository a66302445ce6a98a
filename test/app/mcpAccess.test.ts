// tokenrelay.mcp.servers: which MCP servers mcp-proxy may give the token to, as pure functions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { mcpRefusal } from '../../src/app/mcpAccess.ts';
import { profileSource, readConfigFile } from '../../src/app/configFile.ts';
import { readMcpServers } from '../../src/app/settings.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('mcpRefusal', () => {
  test('unset or empty: no server gets the token, and the message names the setting and the fix', () => {
    for (const servers of [undefined, []]) {
      const why = mcpRefusal(new URL('https://attacker.example/mcp'), servers) ?? '';
      assert.match(why, /^tokenrelay\.mcp\.servers lists no MCP server, so https:\/\/attacker\.example\/mcp gets no token; add "https:\/\/attacker\.example" \(or a URL prefix such as "https:\/\/attacker\.example\/mcp"\) to tokenrelay\.mcp\.servers in your VS Code user settings, or to "mcp": \{"servers": \[…\]\} in the tokenrelay configuration file/);
    }
  });

  test('an origin covers its paths; a prefix covers whole segments; scheme, host and port must match', () => {
    const servers = ['https://mcp.example.com', 'https://tools.example.com/team-a/', 'https://*.corp.example', 'http://127.0.0.1:8080/mcp'];
    for (const url of ['https://mcp.example.com/mcp', 'https://MCP.example.com:443/x/y', 'https://tools.example.com/team-a', 'https://tools.example.com/team-a/mcp',
      'https://a.corp.example/mcp', 'https://a.b.corp.example/', 'http://127.0.0.1:8080/mcp', 'http://127.0.0.1:8080/mcp/sub']) {
      assert.equal(mcpRefusal(new URL(url), servers), undefined, url);
    }
    for (const url of ['https://attacker.example/mcp', 'http://mcp.example.com/mcp', 'https://mcp.example.com:8443/mcp', 'https://mcp.example.com.attacker.example/mcp',
      'https://tools.example.com/team-b/mcp', 'https://tools.example.com/team-a-evil', 'https://tools.example.com/mcp', 'https://corp.example/mcp',
      'http://127.0.0.1:8080/mcp-other', 'http://127.0.0.1:8081/mcp', 'http://127.0.0.1/mcp', 'https://tools.example.com/team-a/../team-b']) {
      assert.match(mcpRefusal(new URL(url), servers) ?? '', /is not in tokenrelay\.mcp\.servers \(https:\/\/mcp\.example\.com, /, url);
    }
  });
});

describe('readMcpServers', () => {
  test('contributed as an application-scoped list, so a workspace cannot add a server', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const setting = pkg.contributes.configuration.properties['tokenrelay.mcp.servers'];
    assert.equal(setting.scope, 'application');
    assert.equal(setting.type, 'array');
    assert.deepEqual(setting.default, []);
    assert.match(setting.markdownDescription, /code from that repository/);
  });

  const read = (value: unknown) => readMcpServers((key) => (key === 'mcp.servers' ? value : undefined));
  test('unset is undefined; a list is trimmed', () => {
    assert.equal(read(undefined), undefined);
    assert.deepEqual(read([' https://mcp.example.com ', 'https://*.example.org/mcp']), ['https://mcp.example.com', 'https://*.example.org/mcp']);
  });

  test('a bad value or entry is a config error naming it and the fix', () => {
    assert.throws(() => read('https://mcp.example.com'), (err: unknown) => err instanceof TokenRelayError && err.code === 'config' && /must be a list of MCP server origins or URL prefixes\. For example/.test(err.message));
    for (const bad of [['mcp.example.com'], ['ftp://mcp.example.com'], ['https://mcp.example.com/?a=1'], ['https://u@mcp.example.com'], ['https://mcp.example.com#x'], [42], ['https://a b.example']]) {
      assert.throws(() => read(bad), (err: unknown) => err instanceof TokenRelayError && err.code === 'config'
        && /tokenrelay\.mcp\.servers contains .* which is not an http\(s\) origin or URL prefix; mcp-proxy serves no server until it is fixed\. For example/.test(err.message), JSON.stringify(bad));
    }
  });

  test('the configuration file takes the same list as "mcp": {"servers": […]}', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trmcp-'));
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ profiles: { default: { issuer: 'https://login.example.com', clientId: 'cli', mcp: { servers: ['https://mcp.example.com'] } } } }));
    assert.deepEqual(readMcpServers(profileSource(readConfigFile(path).profiles.default)), ['https://mcp.example.com']);
    writeFileSync(path, JSON.stringify({ profiles: { default: { mcp: { hosts: [] } } } }));
    assert.throws(() => readConfigFile(path), /"mcp" must be an object with servers/);
  });
});
