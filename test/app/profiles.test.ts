// Profiles as read from VS Code's settings and the configuration file, the `profile:` scope, and
// where a destination's token comes from when a request names no profile.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readProfiles, splitProfileScope } from '../../src/app/profiles.ts';
import { readConfigFile } from '../../src/app/configFile.ts';
import { duplicateKey } from '../../src/app/duplicateKeys.ts';
import { destinationSettings } from '../../src/app/destinations.ts';
import { terminalRoutes } from '../../src/ipc/terminalRoutes.ts';
import type { TokenRequest, TokenService } from '../../src/app/tokenService.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/types.ts';

const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const work = { issuer: 'https://login.work.example', clientId: 'vscode' };
const home = { issuer: 'https://id.home.example', clientId: 'cli' };

function settings(values: Record<string, unknown>) {
  return readProfiles((key) => values[key]);
}

describe('tokenrelay.profiles', () => {
  test('the top-level settings are "default"; each profile is validated alone, nested or dotted keys alike', () => {
    const profiles = settings({ ...work, profiles: { home: { ...home, 'git.hosts': ['git.home.example'] }, lab: { ...home, clientId: 'lab', git: { hosts: ['git.lab.example'] } }, broken: { issuer: 'not a url', clientId: 'x' } } });
    assert.deepEqual(profiles.map((p) => [p.name, p.result.ok]), [['default', true], ['home', true], ['lab', true], ['broken', false]]);
    assert.deepEqual(profiles[1].get('git.hosts'), ['git.home.example']);
    assert.deepEqual(profiles[2].get('git.hosts'), ['git.lab.example']);
    const broken = profiles[3].result;
    assert.ok(!broken.ok && /^Profile "broken" \(tokenrelay\.profiles\.broken\): /.test(broken.problem.message), broken.ok ? '' : broken.problem.message);
  });

  test('a repeated name (default, or letter case) and a second profile of the same issuer and client are each named', () => {
    const profiles = settings({ ...work, profiles: { DEFAULT: home, home, Home: home, copy: work, bad$name: home } });
    const problems = Object.fromEntries(profiles.map((p) => [p.name, p.result.ok ? 'ok' : p.result.problem.message]));
    assert.equal(problems.default, 'ok');
    assert.equal(problems.home, 'ok');
    assert.match(problems.DEFAULT, /repeats the profile "default", which is your top-level tokenrelay\.\* settings.*Rename this profile/);
    assert.match(problems.Home, /repeats the profile "home" \(profile names ignore letter case\)/);
    assert.match(problems.copy, /Profile "copy" uses the same issuer and client id as profile "default".*--resource/);
    assert.match(problems.bad$name, /the profile name "bad\$name" is not allowed/);
  });

  test('not an object: the default profile still serves, the problem is named', () => {
    const profiles = settings({ ...work, profiles: ['home'] });
    assert.equal(profiles[0].result.ok, true);
    assert.ok(!profiles[1].result.ok && /tokenrelay\.profiles must be an object of named profiles/.test(profiles[1].result.problem.message));
  });
});

describe('the profile: scope', () => {
  test('is taken out of the scopes sent on; one at most, and not empty', () => {
    assert.deepEqual(splitProfileScope(['openid', 'profile:work']), { profile: 'work', scopes: ['openid'] });
    assert.deepEqual(splitProfileScope(['openid']), { scopes: ['openid'] });
    assert.deepEqual(splitProfileScope(['profile:work', 'profile:work']), { profile: 'work', scopes: [] });
    assert.throws(() => splitProfileScope(['profile:a', 'profile:b']), (err: TokenRelayError) => err.code === 'unknown-profile' && /more than one profile/.test(err.message));
    assert.throws(() => splitProfileScope(['profile:']), /an empty profile/);
  });
});

describe('the configuration file', () => {
  const withFile = (text: string, check: (path: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-profiles-'));
    try {
      const path = join(dir, 'config.json');
      writeFileSync(path, text);
      check(path);
      assert.equal(readFileSync(path, 'utf8'), text, 'the file is left as it was');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('a profile written twice, or two differing only in case, is named with the file and the fix', () => {
    withFile(`{"profiles": {"work": ${JSON.stringify(work)}, "work": ${JSON.stringify(home)}}}`, (path) => {
      assert.throws(() => readConfigFile(path), (err: Error) => err.message.startsWith(`${path}: names "work" twice (profiles).`) && /Keep one of them/.test(err.message));
    });
    withFile(`{"profiles": {"work": ${JSON.stringify(work)}, "Work": ${JSON.stringify(home)}}}`, (path) => {
      assert.throws(() => readConfigFile(path), /has the profiles "work" and "Work", which differ only in letter case/);
    });
    withFile(`{"profiles": {"work": {"issuer": "a", "issuer": "b"}}}`, (path) => {
      assert.throws(() => readConfigFile(path), /names "issuer" twice \(profiles › work\)/);
    });
  });

  test('duplicateKey: strings with escapes and keys in arrays and other objects are not confused', () => {
    assert.equal(duplicateKey('{"a": "\\"b\\":", "b": [{"a": 1}, {"a": 2}], "c": {"a": {"a": 1}}}'), undefined);
    assert.deepEqual(duplicateKey('{"a": [{"x": 1, "x": 2}]}'), { key: 'x', where: 'a' });
  });
});

describe('entries naming a profile', () => {
  const from = (values: Record<string, unknown>) => (key: string) => values[key];
  const profiles = [
    { name: 'default', get: from({
      'git.hosts': ['github.com', { host: 'git.work.example', profile: 'work' }],
      'mcp.servers': ['https://mcp.example.com', { url: 'https://mcp.work.example', profile: 'work' }],
      'docker.registries': [{ registry: 'https://registry.work.example/v2/', profile: 'work' }],
      'kubernetes.clusters': [{ host: 'k8s.work.example:6443', profile: 'work' }, 'k8s.example.com'],
    }) },
    { name: 'work', get: from({ 'git.hosts': ['src.work.example'] }) },
    { name: 'lab', get: from({ 'git.hosts': [{ host: 'github.com', profile: 'nope' }] }) },
  ];
  const d = destinationSettings(() => profiles);

  test('an entry naming another profile is that profile\'s, not the list owner\'s; an unset list named elsewhere is those entries', () => {
    assert.deepEqual(d.gitHosts('default'), ['github.com']);
    assert.deepEqual(d.gitHosts('work'), ['src.work.example', 'git.work.example']);
    assert.deepEqual(d.gitHosts(), ['github.com'], 'no name: the first profile');
    assert.deepEqual(d.mcpServers('work'), ['https://mcp.work.example']);
    assert.deepEqual(d.mcpServers('default'), ['https://mcp.example.com']);
    assert.deepEqual(d.docker('work').registries, ['registry.work.example']);
    assert.deepEqual(d.docker('default').registries, []);
    assert.deepEqual(d.kubernetesClusters('work'), ['k8s.work.example:6443']);
    assert.deepEqual(d.kubernetesClusters('default'), ['k8s.example.com']);
    assert.deepEqual(d.gitHosts('lab'), [], 'an entry naming a profile nobody has gives it to nobody');
  });

  test('routed through the terminal routes: the entry\'s profile gives the token', async () => {
    const asked: (string | undefined)[] = [];
    const service: TokenService = {
      profiles: () => profiles.map((p) => p.name),
      async getToken(request: TokenRequest) {
        asked.push(request.profile);
        return { accessToken: `token-of-${request.profile}`, expiresAt: Date.now() + 60_000, generation: 1, account: { id: 'a', label: 'a' } } as never;
      },
      status: (profile) => ({ state: 'signed-in', issuer: `https://${profile}.example` }),
      requestSignIn: async () => undefined,
      signOutAccount: async () => undefined,
    };
    const routes = terminalRoutes({ service, log: quiet, ...d });
    assert.equal((await routes['git-credential']({ protocol: 'https', host: 'git.work.example' })).password, 'token-of-work');
    assert.equal((await routes['git-credential']({ protocol: 'https', host: 'github.com' })).password, 'token-of-default');
    assert.equal((await routes['docker-credential']({ serverURL: 'registry.work.example' })).secret, 'token-of-work');
    assert.deepEqual(await routes['mcp-server']({ url: 'https://mcp.work.example/mcp' }), { issuer: 'https://work.example', profile: 'work' });
    assert.deepEqual(await routes['kubernetes-cluster']({ server: 'https://k8s.work.example:6443' }), { profile: 'work' });
    assert.match((await routes['git-credential']({ protocol: 'https', host: 'git.work.example', profile: 'default' })).declined, /tokenrelay\.git\.hosts/, 'named default: that entry is not default\'s');
  });

  test('an object entry that is not { <field>, profile } is the setting\'s named problem', () => {
    const bad = destinationSettings(() => [{ name: 'default', get: from({ 'git.hosts': [{ host: 'x.example', profile: 'a b' }] }) }]);
    assert.throws(() => bad.gitHosts('default'), /tokenrelay\.git\.hosts contains .* which is neither a host nor \{"host": …, "profile": "<name>"\}/);
  });
});

describe('which profile a destination gets its token from', () => {
  /** Records the profile each token request names: routing is the question here, not tokens. */
  function routesWith(lists: Record<string, { git?: string[]; registries?: string[]; mcp?: string[]; clusters?: string[] }>) {
    const asked: (string | undefined)[] = [];
    const profiles = Object.keys(lists);
    const service: TokenService = {
      profiles: () => profiles,
      async getToken(request: TokenRequest) {
        if (request.profile !== undefined && !profiles.includes(request.profile)) throw new TokenRelayError('unknown-profile', `no profile "${request.profile}"`);
        asked.push(request.profile);
        return { accessToken: `token-of-${request.profile}`, expiresAt: Date.now() + 60_000, generation: 1, account: { id: 'a', label: 'a' } } as never;
      },
      status: (profile) => ({ state: 'signed-in', issuer: `https://${profile}.example` }),
      requestSignIn: async () => undefined,
      signOutAccount: async () => undefined,
    };
    const of = (p?: string) => lists[p ?? profiles[0]];
    const routes = terminalRoutes({
      service, log: quiet,
      gitHosts: (p) => of(p).git,
      docker: (p) => ({ username: '', registries: of(p).registries ?? [] }),
      mcpServers: (p) => of(p).mcp,
      kubernetesClusters: (p) => of(p).clusters,
    });
    return { routes, asked };
  }

  test('the first profile whose own list names it; else the first profile and its rules; a named profile always wins', async () => {
    const { routes, asked } = routesWith({
      default: {},
      work: { git: ['git.work.example'], registries: ['registry.work.example'], mcp: ['https://mcp.work.example'], clusters: ['k8s.work.example:6443'] },
      lab: { git: ['*.lab.example'] },
    });
    assert.equal((await routes['git-credential']({ protocol: 'https', host: 'git.work.example' })).password, 'token-of-work');
    assert.equal((await routes['git-credential']({ protocol: 'https', host: 'src.lab.example' })).password, 'token-of-lab');
    assert.equal((await routes['git-credential']({ protocol: 'https', host: 'github.com' })).password, 'token-of-default', 'unlisted: the default profile (no git.hosts: any https host)');
    assert.equal((await routes['git-credential']({ protocol: 'https', host: 'git.work.example', profile: 'lab' })).declined !== undefined, true, 'named lab: lab\'s list decides, and it does not list that host');
    assert.equal((await routes['docker-credential']({ serverURL: 'registry.work.example' })).secret, 'token-of-work');
    assert.equal((await routes['docker-credential']({ serverURL: 'registry.other.example' })).secret, undefined, 'a registry nobody lists gets nothing');
    assert.deepEqual((await routes['docker-credential']({})).registries, ['registry.work.example'], 'list: every profile\'s registries');
    assert.deepEqual(await routes['mcp-server']({ url: 'https://mcp.work.example/mcp' }), { issuer: 'https://work.example', profile: 'work' });
    assert.match((await routes['mcp-server']({ url: 'https://mcp.other.example' })).declined, /tokenrelay\.mcp\.servers/);
    assert.deepEqual(await routes['kubernetes-cluster']({ server: 'https://k8s.work.example:6443' }), { profile: 'work' });
    assert.deepEqual(asked, ['work', 'lab', 'default', 'work']);
    await assert.rejects(routes.token({ profile: 'nope' }), /no profile "nope"/);
    await assert.rejects(routes.token({ profile: '../etc' }), /"profile" must be a profile name/);
  });
});
