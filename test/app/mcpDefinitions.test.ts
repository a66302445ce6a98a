// Which MCP servers Token Relay offers to VS Code's MCP client, as pure functions over the settings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_PROFILE, mcpProxyArgs, mcpServerEntries, mcpServerLabel } from '../../src/app/mcpDefinitions.ts';
import { mcpRefusal } from '../../src/app/mcpAccess.ts';

const source = (values: Record<string, unknown>) => (key: string) => values[key];

describe('mcpServerEntries', () => {
  test('nothing set: nothing offered, nothing said', () => {
    const said: string[] = [];
    assert.deepEqual(mcpServerEntries(source({}), (w) => said.push(w)), []);
    assert.deepEqual(mcpServerEntries(source({ 'mcp.servers': [], profiles: {} }), (w) => said.push(w)), []);
    assert.deepEqual(said, []);
  });

  test('tokenrelay.mcp.servers belongs to the default profile; origins and prefixes are offered as written, once', () => {
    const servers = ['https://mcp.example.com', ' https://tools.example.com/team-a/mcp/ ', 'http://127.0.0.1:8080/mcp', 'https://mcp.example.com/'];
    const offers = mcpServerEntries(source({ 'mcp.servers': servers }));
    assert.deepEqual(offers, [
      { url: 'https://mcp.example.com', profile: DEFAULT_PROFILE },
      { url: 'https://tools.example.com/team-a/mcp', profile: DEFAULT_PROFILE },
      { url: 'http://127.0.0.1:8080/mcp', profile: DEFAULT_PROFILE },
    ]);
    // mcp-proxy accepts every URL offered: the same list covers it.
    for (const offer of offers) assert.equal(mcpRefusal(new URL(offer.url), servers), undefined, offer.url);
  });

  test('a wildcard host is allowed for tokens but cannot be started: skipped, and the reason says so', () => {
    const said: string[] = [];
    const offers = mcpServerEntries(source({ 'mcp.servers': ['https://*.corp.example', 'https://mcp.corp.example/mcp'] }), (w) => said.push(w));
    assert.deepEqual(offers.map((o) => o.url), ['https://mcp.corp.example/mcp']);
    assert.equal(said.length, 1);
    assert.match(said[0], /"https:\/\/\*\.corp\.example" names a wildcard host: .*cannot be started/);
  });

  test('a list with an invalid entry is not offered (mcp-proxy serves none of it until it is fixed), with the reason', () => {
    for (const bad of [42, '', 'ftp://x.example', 'https://u@x.example', 'https://x.example/?q=1', { url: 'https://x.example' }]) {
      const said: string[] = [];
      const offers = mcpServerEntries(source({ 'mcp.servers': [bad, 'https://ok.example/mcp'] }), (w) => said.push(w));
      assert.deepEqual(offers, [], JSON.stringify(bad));
      assert.equal(said.length, 1);
      assert.match(said[0], /^tokenrelay\.mcp\.servers contains .*\(tokenrelay\.mcp\.servers: none of it is offered to VS Code\)$/, said[0]);
    }
    const notList: string[] = [];
    assert.deepEqual(mcpServerEntries(source({ 'mcp.servers': 'https://x.example' }), (w) => notList.push(w)), []);
    assert.match(notList[0], /tokenrelay\.mcp\.servers must be a list/);
  });

  test('an entry naming a profile ({"url", "profile"}) is offered with that profile', () => {
    const offers = mcpServerEntries(source({ 'mcp.servers': ['https://mcp.example.com/mcp', { url: 'https://mcp.work.example/mcp', profile: 'work' }] }));
    assert.deepEqual(offers, [{ url: 'https://mcp.example.com/mcp', profile: 'default' }, { url: 'https://mcp.work.example/mcp', profile: 'work' }]);
    assert.deepEqual(mcpProxyArgs(offers[1]), ['mcp-proxy', 'https://mcp.work.example/mcp', '--profile', 'work']);
  });

  test('tokenrelay.profiles: each profile\'s "mcp": {"servers"} or "mcp.servers", under its own name; bad profiles skipped', () => {
    const said: string[] = [];
    const offers = mcpServerEntries(source({
      'mcp.servers': ['https://mcp.example.com/mcp'],
      profiles: {
        work: { issuer: 'https://idp.work.example', mcp: { servers: ['https://mcp.work.example/mcp', 'https://*.work.example'] } },
        lab: { 'mcp.servers': ['https://mcp.example.com/mcp'] },
        empty: { issuer: 'https://idp.example' },
        '--evil': { mcp: { servers: ['https://evil.example/mcp'] } },
        odd: 'not an object',
      },
    }), (w) => said.push(w));
    assert.deepEqual(offers, [
      { url: 'https://mcp.example.com/mcp', profile: 'default' },
      { url: 'https://mcp.work.example/mcp', profile: 'work' },
      { url: 'https://mcp.example.com/mcp', profile: 'lab' },
    ]);
    assert.equal(said.length, 2, said.join('\n'));
    assert.match(said[0], /^tokenrelay\.profiles\.work\.mcp\.servers entry "https:\/\/\*\.work\.example" names a wildcard host/);
    assert.match(said[1], /profile named "--evil", which is not allowed/);
    const notObject: string[] = [];
    assert.deepEqual(mcpServerEntries(source({ profiles: ['x'] }), (w) => notObject.push(w)), []);
    assert.match(notObject[0], /tokenrelay\.profiles is not an object/);
  });
});

describe('labels and arguments', () => {
  test('the label is host and path (plus a non-default profile); labels of different offers differ', () => {
    assert.equal(mcpServerLabel({ url: 'https://mcp.example.com', profile: 'default' }), 'mcp.example.com');
    assert.equal(mcpServerLabel({ url: 'http://127.0.0.1:8080/mcp', profile: 'default' }), '127.0.0.1:8080/mcp');
    assert.equal(mcpServerLabel({ url: 'https://mcp.example.com/mcp', profile: 'work' }), 'mcp.example.com/mcp (work)');
  });

  test('mcp-proxy URL, and --profile only for a profile other than "default"', () => {
    assert.deepEqual(mcpProxyArgs({ url: 'https://mcp.example.com/mcp', profile: 'default' }), ['mcp-proxy', 'https://mcp.example.com/mcp']);
    assert.deepEqual(mcpProxyArgs({ url: 'https://mcp.example.com/mcp', profile: 'work' }), ['mcp-proxy', 'https://mcp.example.com/mcp', '--profile', 'work']);
  });
});
