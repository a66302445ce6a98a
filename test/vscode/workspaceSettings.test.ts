// Issue 19, item 6: a workspace (code from a repository) sets every tokenrelay.* setting, to hostile
// or broken values. Each is ignored and named in the log; the user's settings are what the window
// uses and serves with, for sign-in and for every helper (git, docker, MCP, kubectl, key store).
import './setup.ts';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import { SETTING_KEYS, parseDockerSettings, readGitHosts, readKubernetesClusters, readMcpServers } from '../../src/app/settings.ts';
import { readSettings, userSettings, workspaceSettingKeys } from '../../src/vscode/settings.ts';
import { fake } from './fake/vscode.ts';
import { captureLog } from '../cli/support.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const props = pkg.contributes.configuration.properties as Record<string, { scope?: string; default?: unknown }>;

/** What a repository's .vscode/settings.json could hold: widening, redirecting or breaking values for every setting. */
const WORKSPACE: Record<string, unknown> = {
  issuer: 'https://idp.attacker.example', clientId: 42, scopes: 'not a list', resource: 'not a uri', endpoints: { token: 'https://attacker.example/token' },
  redirectUri: 'http://127.0.0.1:8080/attacker', clientAuthMethod: 'client_secret_post',
  signInFlow: 'bogus', keyStore: 'file', refreshSkewSeconds: -5, refreshTokenReuseGraceSeconds: 'forever',
  'git.username': 'attacker', 'git.hosts': ['attacker.example'], 'docker.username': 'attacker', 'docker.registries': ['registry.attacker.example'],
  'mcp.servers': ['https://mcp.attacker.example'], 'kubernetes.clusters': 'not a list',
  profiles: { evil: { issuer: 'https://login.attacker.example', clientId: 'x', git: { hosts: ['git.example.com'] } } },
};
const USER: Record<string, unknown> = {
  issuer: 'https://login.example.com', clientId: 'cli', signInFlow: 'deviceCode', 'git.hosts': ['git.example.com'],
  'mcp.servers': ['https://mcp.example.com'], 'docker.registries': ['registry.example.com'],
};
const full = (values: Record<string, unknown>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [`tokenrelay.${k}`, v]));

describe('workspace settings for every setting', () => {
  afterEach(() => { fake.reset(); });

  test('package.json: every setting is application- or machine-scoped and restricted in untrusted workspaces; the code knows them all', () => {
    assert.deepEqual(Object.keys(props).sort(), SETTING_KEYS.map((k) => `tokenrelay.${k}`).sort());
    for (const [key, setting] of Object.entries(props)) assert.ok(['application', 'machine'].includes(setting.scope ?? ''), `${key} is ${setting.scope ?? 'unscoped'}`);
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.deepEqual([...pkg.capabilities.untrustedWorkspaces.restrictedConfigurations].sort(), Object.keys(props).sort());
    assert.deepEqual(Object.keys(WORKSPACE).sort(), [...SETTING_KEYS].sort(), 'the test covers every setting');
  });

  test('a workspace value of each setting is ignored and named once; the window serves with the user\'s settings', () => {
    fake.setSettings(full(USER));
    for (const [key, value] of Object.entries(full(WORKSPACE))) fake.workspaceSettings.set(key, value);
    const log = captureLog();
    const result = readSettings(log);
    assert.ok(result.ok, result.ok ? '' : result.problem.message);
    assert.equal(result.settings.oauth.issuer, 'https://login.example.com');
    assert.equal(result.settings.oauth.clientId, 'cli');
    assert.equal(result.settings.signInFlow, 'deviceCode');
    assert.equal(result.settings.refreshSkewMs, 60_000);
    assert.equal(result.settings.reuseGraceMs, 0);
    assert.equal(result.settings.oauth.resource, undefined);
    assert.equal(result.settings.oauth.redirectUri, undefined, 'a workspace cannot pick the sign-in listener');
    const get = userSettings();
    for (const key of SETTING_KEYS) assert.deepEqual(get(key), key in USER ? USER[key] : props[`tokenrelay.${key}`].default, key);
    assert.deepEqual(readGitHosts(get), ['git.example.com']);
    assert.deepEqual(readMcpServers(get), ['https://mcp.example.com']);
    assert.equal(readKubernetesClusters(get), undefined);
    assert.deepEqual(parseDockerSettings(get), { username: 'oauth2', registries: ['registry.example.com'] });
    assert.deepEqual(workspaceSettingKeys().sort(), [...SETTING_KEYS].sort());
    assert.equal(log.lines.length, 1, log.lines.join('\n'));
    assert.match(log.lines[0], /^\[warn\] Ignoring tokenrelay\.issuer, tokenrelay\.clientId, .*tokenrelay\.kubernetes\.clusters, tokenrelay\.profiles in this workspace's settings: Token Relay reads its settings from your user settings only, because a workspace is code from a repository/);
    readSettings(log);
    assert.equal(log.lines.length, 1, 'said once, not on every reload');
  });

  test('the break of the review: a workspace "signInFlow": "bogus" alone no longer stops the configuration', () => {
    fake.setSettings(full({ issuer: 'https://login.example.com', clientId: 'cli' }));
    fake.workspaceSettings.set('tokenrelay.signInFlow', 'bogus');
    const result = readSettings();
    assert.ok(result.ok, result.ok ? '' : result.problem.message);
    assert.equal(result.settings.signInFlow, 'auto');
  });
});
