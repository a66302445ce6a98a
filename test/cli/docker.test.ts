// docker-credential-tokenrelay: the docker-credential-helpers protocol byte for byte (the
// reference README's examples: ServerURL https://index.docker.io/v1, Username david), bad input,
// and the real docker CLI pulling through a fake engine on a unix socket that decodes the
// X-Registry-Auth header docker sends and checks the password by introspection at the test IdP.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as vscode from 'vscode';
import '../vscode/setup.ts';
import { fake } from '../vscode/fake/vscode.ts';
import { World } from '../harness/fixture.ts';
import { captureLog, cliBundle, dockerHelperBundle, runChild, startWindow, type TestWindow } from './support.ts';

const REGISTRIES = ['index.docker.io', 'registry.test:5000'];
const NOT_FOUND = 'credentials not found in native keychain\n';

let world: World;
let win: TestWindow;
let helper: string;

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world, { docker: { username: 'david', registries: REGISTRIES } });
  helper = (await dockerHelperBundle()).launcher;
});

after(async () => {
  await win?.close();
  await world?.close();
});

const current = () => win.service.getToken();
/**
 * `text` fit for a failure message: `expected` (the token it should hold) as <token>, any other
 * token the IdP issued as <other token>; without `expected`, every one as <token>.
 */
function masked(text: string, expected?: string): string {
  return world.idp.issuedTokens().reduce((t, token) => t.split(token).join(expected === undefined || token === expected ? '<token>' : '<other token>'), text);
}
const helperEnv = () => ({ ...process.env, TOKENRELAY_SOCK: win.server.socketPath });
const run = (args: string[], input = '') => runChild(helper, args, { env: helperEnv(), input });

describe('the helper protocol', () => {
  test('get: {"ServerURL","Username","Secret"} with the configured username and the current access token', async () => {
    const { accessToken } = await current();
    const r = await run(['get'], 'https://index.docker.io/v1\n');
    assert.equal(r.code, 0, masked(r.stdout));
    assert.equal(r.stderr, '');
    assert.equal(masked(r.stdout, accessToken), '{"ServerURL":"https://index.docker.io/v1","Username":"david","Secret":"<token>"}\n');
    // docker passes a private registry as host:port, without a newline.
    const bare = await run(['get'], 'registry.test:5000');
    assert.equal(masked(bare.stdout, accessToken), '{"ServerURL":"registry.test:5000","Username":"david","Secret":"<token>"}\n');
  });

  test('get for a registry not listed, or over plain http: "credentials not found", exit 1, no token', async () => {
    for (const serverURL of ['other.example.com', 'https://registry.test:5001', 'http://registry.test:5000']) {
      const r = await run(['get'], serverURL);
      assert.deepEqual([r.code, r.stdout, r.stderr], [1, NOT_FOUND, ''], serverURL);
    }
  });

  test('list: {"<registry>":"<username>"}; store accepts and discards; erase changes nothing', async () => {
    const list = await run(['list']);
    assert.equal(list.code, 0);
    assert.equal(list.stdout, '{"index.docker.io":"david","registry.test:5000":"david"}\n');

    const before = await current();
    world.idp.resetCounters();
    const handled = win.handled.length;
    const store = await run(['store'], '{"ServerURL":"https://index.docker.io/v1","Username":"david","Secret":"passw0rd1"}\n');
    assert.deepEqual([store.code, store.stdout, store.stderr], [0, '', '']);
    const erase = await run(['erase'], 'https://index.docker.io/v1\n');
    assert.deepEqual([erase.code, erase.stdout, erase.stderr], [0, '', '']);
    assert.equal(win.handled.length, handled, 'store and erase never reach the window');
    const get = await run(['get'], 'https://index.docker.io/v1');
    assert.equal(masked(JSON.parse(get.stdout).Secret, before.accessToken), '<token>', 'the stored secret is not what get answers; erase ended nothing');
    assert.equal(world.idp.counters().tokensIssued, 0);
  });

  test('version', async () => {
    const r = await run(['version']);
    assert.match(r.stdout, /^docker-credential-tokenrelay \(tokenrelay\) \d+\.\d+\.\d+\n$/);
  });
});

describe('bad input: a clear line on stdout naming the fix, exit 2, nothing stored changes, no token', () => {
  const cases: [string, string[], string, RegExp][] = [
    ['empty stdin', ['get'], '', /^no credentials server URL: give the registry on standard input \(for example: echo registry\.example\.com \| docker-credential-tokenrelay get\)\n$/],
    ['not a URL (a store payload sent to get)', ['get'], '{"ServerURL":"x","Username":"u","Secret":"hunter2"}', /^standard input is not a registry server URL: give a host such as registry\.example\.com:5000 or a URL such as https:\/\/registry\.example\.com/],
    ['erase without a URL', ['erase'], ' \n', /^no credentials server URL/],
    ['unknown action', ['delete'], '', /^Unknown credential action `delete`: use store, get, erase, list or version\n$/],
    ['no action', [], '', /^Usage: docker-credential-tokenrelay <store\|get\|erase\|list\|version> \(one action; run "docker-credential-tokenrelay --help"\)\n$/],
    ['store with malformed JSON', ['store'], 'hunter2', /^store expects the JSON credentials docker sends/],
    ['store without a username', ['store'], '{"ServerURL":"registry.test:5000","Secret":"hunter2"}', /^no credentials username: store expects "Username"/],
  ];
  for (const [name, args, input, message] of cases) {
    test(name, async () => {
      const before = await current();
      world.idp.resetCounters();
      const r = await run(args, input);
      assert.equal(r.code, 2, masked(r.stdout));
      assert.match(r.stdout, message);
      assert.equal(r.stderr, '');
      assert.ok(!r.stdout.includes('hunter2') && !r.stdout.includes(before.accessToken), 'neither the input secret nor the token is echoed');
      const after = await current();
      assert.deepEqual([masked(after.accessToken, before.accessToken), after.generation], ['<token>', before.generation]);
      assert.equal(world.idp.counters().tokensIssued, 0);
    });
  }
});

describe('the real docker client', () => {
  let engine: Server;
  let socket: string;
  type Auth = { username?: string; password?: string; serveraddress?: string } | undefined;
  const auths: Auth[] = [];
  const accepted: string[] = [];

  /** The registry's check: username as configured, password an active access token at the IdP. */
  async function answer(auth: Auth, reply: (ok: boolean) => void): Promise<void> {
    auths.push(auth);
    const ok = auth?.username === 'david' && !!auth.password && (await world.idp.introspect(auth.password)).active;
    if (ok) accepted.push(auth!.password!);
    reply(ok);
  }

  before(async () => {
    // A fake engine: /_ping and /images/create, answering the pull only with valid credentials.
    socket = join(world.dir, 'docker.sock');
    engine = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => { body += d; });
      req.on('end', () => {
        if (req.url?.endsWith('/_ping')) {
          res.writeHead(200, { 'api-version': '1.47', ostype: 'linux', 'content-type': 'text/plain' }).end('OK');
        } else if (req.url?.endsWith('/auth')) {
          // docker login: the credentials arrive in the body.
          void answer(JSON.parse(body || '{}'), (ok) => res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
            .end(ok ? '{"Status":"Login Succeeded"}' : '{"message":"unauthorized: the registry wants a valid token"}'));
        } else if (req.url?.includes('/images/create')) {
          const header = req.headers['x-registry-auth'];
          void answer(typeof header === 'string' && header ? JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) : undefined, (ok) => {
            // As a real engine reports a registry's refusal: in the progress stream (an HTTP 401 here
            // would make docker ask for a login interactively).
            const message = 'unauthorized: the registry wants a valid token';
            res.writeHead(200, { 'content-type': 'application/json' }).end(ok
              ? `${JSON.stringify({ status: 'Pulling from team/app', id: 'latest' })}\n${JSON.stringify({ status: 'Status: Downloaded newer image' })}\n`
              : `${JSON.stringify({ errorDetail: { message }, error: message })}\n`);
          });
        } else {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not implemented by the fake engine"}');
        }
      });
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
  });

  after(async () => {
    await new Promise((resolve) => engine?.close(resolve));
  });

  async function docker(args: string[]) {
    const config = join(world.dir, 'docker-config');
    mkdirSync(config, { recursive: true });
    // docs/integrations.md "docker": the registries handed to the helper.
    writeFileSync(join(config, 'config.json'), JSON.stringify({ credHelpers: { 'registry.test:5000': 'tokenrelay', 'other.test': 'tokenrelay' } }));
    const env = {
      PATH: `${(await cliBundle()).binDir}${delimiter}${process.env.PATH}`, HOME: join(world.dir, 'home'),
      DOCKER_CONFIG: config, DOCKER_HOST: `unix://${socket}`, TOKENRELAY_SOCK: win.server.socketPath,
    };
    return runChild('docker', args, { env });
  }

  test('docker pull sends the current access token as the registry password', async () => {
    const r = await docker(['pull', 'registry.test:5000/team/app']);
    assert.equal(r.code, 0, r.stderr);
    const { accessToken } = await current();
    const auth = auths.at(-1);
    assert.deepEqual({ ...auth, password: masked(auth?.password ?? '', accessToken) }, { username: 'david', password: '<token>', serveraddress: 'registry.test:5000' });
    assert.equal(masked(accepted.at(-1)!, accessToken), '<token>');
  });

  test('docker login authenticates with the token and its store is discarded; docker logout ends nothing', async () => {
    const before = await current();
    world.idp.resetCounters();
    const login = await docker(['login', 'registry.test:5000']);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);
    const auth = auths.at(-1);
    assert.deepEqual({ ...auth, password: masked(auth?.password ?? '', before.accessToken) }, { username: 'david', password: '<token>', serveraddress: 'registry.test:5000' });
    const logout = await docker(['logout', 'registry.test:5000']);
    assert.equal(logout.code, 0, logout.stderr);
    assert.doesNotMatch(logout.stderr, /could not erase/i);
    const after = await current();
    assert.deepEqual([masked(after.accessToken, before.accessToken), after.generation], ['<token>', before.generation], 'the session is untouched');
    assert.equal(world.idp.counters().tokensIssued, 0);
    assert.equal((await docker(['pull', 'registry.test:5000/team/app'])).code, 0, 'still answered after logout');
  });

  test('a registry not listed gets no token: docker pulls anonymously and the engine refuses', async () => {
    const asked = win.handled.filter((h) => h.route === 'docker-credential').length;
    const r = await docker(['pull', 'other.test/team/app']);
    assert.notEqual(r.code, 0);
    assert.equal(win.handled.filter((h) => h.route === 'docker-credential').length, asked + 1, 'docker did ask the helper');
    assert.match(r.stderr, /unauthorized: the registry wants a valid token/);
    const { accessToken } = await current();
    assert.ok(!JSON.stringify(auths.at(-1) ?? {}).includes(accessToken));
    assert.ok(!r.stdout.includes(accessToken) && !r.stderr.includes(accessToken));
  });
});

describe('from an integrated terminal: the extension\'s settings reach the helper', () => {
  test('tokenrelay.docker.* as set in VS Code; a bad registry entry is an error naming the setting, without a token', async () => {
    const { startTerminalBridge } = await import('../../src/vscode/terminalEnv.ts');
    const cli = await cliBundle();
    const entries = new Map<string, string>();
    const collection = { replace: (k: string, v: string) => entries.set(k, v), prepend: (k: string, v: string) => entries.set(k, v) };
    const context = { extensionPath: cli.extensionDir, environmentVariableCollection: collection } as unknown as vscode.ExtensionContext;
    const savedXdg = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = mkdtempSync(join(world.dir, 'runtime-'));
    fake.setSettings({ 'tokenrelay.docker.registries': ['registry.test:5000'], 'tokenrelay.docker.username': 'robot' });
    const bridge = await startTerminalBridge(context, win.service, captureLog());
    try {
      // A terminal: the extension's PATH entry and socket; the helper found by name.
      const env = { ...process.env, PATH: `${entries.get('PATH')}${process.env.PATH}`, TOKENRELAY_SOCK: entries.get('TOKENRELAY_SOCK') };
      const sh = (script: string, input = '') => runChild('/bin/sh', ['-c', script], { env, input });
      assert.equal((await sh('docker-credential-tokenrelay list')).stdout, '{"registry.test:5000":"robot"}\n');
      const get = await sh('docker-credential-tokenrelay get', 'registry.test:5000');
      assert.equal(JSON.parse(get.stdout).Username, 'robot');
      assert.equal(masked(JSON.parse(get.stdout).Secret, (await current()).accessToken), '<token>');

      fake.setSettings({ 'tokenrelay.docker.registries': ['http://registry.test:5000'] });
      const bad = await sh('docker-credential-tokenrelay get', 'registry.test:5000');
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /^tokenrelay\.docker\.registries contains "http:\/\/registry\.test:5000", which is not an https registry\. List registry hosts as docker names them/);
      assert.ok(!bad.stdout.includes((await current()).accessToken));
    } finally {
      bridge.dispose();
      fake.setSettings({ 'tokenrelay.docker.registries': undefined, 'tokenrelay.docker.username': undefined });
      if (savedXdg === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = savedXdg;
    }
  });
});
