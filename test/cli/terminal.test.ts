// The terminal side as a user meets it: the environment collection the extension sets, the sh
// launcher on PATH, the CLI finding a live window after a reload, and git using the helper.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import Module from 'node:module';
import { basename, delimiter, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as vscode from 'vscode';
import { World } from '../harness/fixture.ts';
import { waitFor } from '../support/wait.ts';
import { serveTerminals } from '../../src/ipc/tokenServer.ts';
import { TEST_USER, captureLog, cliBundle, runCli, runCliAs, startWindow, type CliBundle, type TestWindow } from './support.ts';

// ---- a stand-in for the `vscode` module: only what terminalEnv.ts touches -------------------------
const settings: Record<string, unknown> = {};
const warnings: string[] = [];
const fakeVscode = {
  // User settings only, as the extension reads them (inspect's globalValue).
  workspace: { getConfiguration: (section: string) => ({
    get: (key: string) => settings[`${section}.${key}`],
    inspect: (key: string) => ({ key: `${section}.${key}`, globalValue: settings[`${section}.${key}`] }),
  }) },
  window: { showWarningMessage: async (message: string) => { warnings.push(message); return undefined; } },
};
const resolve = (Module as unknown as { _resolveFilename: (...a: unknown[]) => string })._resolveFilename;
(Module as unknown as { _resolveFilename: (...a: unknown[]) => string })._resolveFilename = function (this: unknown, request: unknown, ...rest: unknown[]) {
  return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
};
require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: fakeVscode } as unknown as NodeJS.Module;
const { startTerminalBridge } = require('../../src/vscode/terminalEnv.ts') as typeof import('../../src/vscode/terminalEnv.ts');

type Mutation = { type: 'replace' | 'prepend' | 'append'; value: string };

class FakeCollection {
  persistent = true;
  description: string | undefined;
  readonly entries = new Map<string, Mutation>();
  replace(variable: string, value: string) { this.entries.set(variable, { type: 'replace', value }); }
  prepend(variable: string, value: string) { this.entries.set(variable, { type: 'prepend', value }); }
  append(variable: string, value: string) { this.entries.set(variable, { type: 'append', value }); }
  get(variable: string) { return this.entries.get(variable); }
  delete(variable: string) { this.entries.delete(variable); }
  clear() { this.entries.clear(); }
  /** What a terminal created now would get, as VS Code applies it. */
  apply(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const env = { ...base };
    for (const [k, m] of this.entries) {
      env[k] = m.type === 'replace' ? m.value : m.type === 'prepend' ? m.value + (env[k] ?? '') : (env[k] ?? '') + m.value;
    }
    return env;
  }
}

let world: World;
let win: TestWindow;
let cli: CliBundle;

/** A socket file of a window that died without cleaning up (its listener killed): connecting is refused. */
async function staleSocket(path: string): Promise<string> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => { require('fs').chmodSync(${JSON.stringify(path)}, 0o600); console.log('up'); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return path;
}

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world);
  cli = await cliBundle();
});

after(async () => {
  await win?.close();
  await world?.close();
});

const current = async () => (await win.service.getToken()).accessToken;
/** Runs a child asynchronously: the window's server lives in this process and must keep answering. */
function run(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; input?: string; cwd?: string }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
const sh = (script: string, env: NodeJS.ProcessEnv, input = '') => run('/bin/sh', ['-c', script], { env, input });

describe('startTerminalBridge (the extension side)', () => {
  test('sets TOKENRELAY_SOCK, PATH and the node runtime, never a token; a new terminal runs `tokenrelay` by name', async () => {
    const runtime = join(world.dir, 'runtime');
    mkdirSync(runtime, { mode: 0o700 });
    const savedXdg = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = runtime;
    chmodSync(cli.launcher, 0o644); // as if the package lost the exec bit
    settings['tokenrelay.git.username'] = 'x-access-token';
    const collection = new FakeCollection();
    const context = { extensionPath: cli.extensionDir, environmentVariableCollection: collection } as unknown as vscode.ExtensionContext;
    const bridge = await startTerminalBridge(context, win.service, captureLog());
    try {
      const sock = collection.get('TOKENRELAY_SOCK');
      assert.equal(sock?.type, 'replace');
      assert.match(sock!.value, new RegExp(`^${runtime}/tokenrelay/term-[0-9a-f]{24}\\.sock$`));
      assert.equal(statSync(sock!.value).mode & 0o777, 0o600);
      assert.equal(statSync(join(runtime, 'tokenrelay')).mode & 0o777, 0o700);
      assert.deepEqual(collection.get('VSCODE_TOKENRELAY_NODE'), { type: 'replace', value: process.execPath });
      assert.deepEqual(collection.get('PATH'), { type: 'prepend', value: cli.binDir + delimiter });
      assert.ok(collection.description && /tokenrelay/.test(collection.description));
      // VS Code puts the extension's name in front of it: the hover must not read "Token Relay: Token Relay: …".
      assert.match(collection.description, /^Puts the `tokenrelay` command on PATH/);
      assert.equal(collection.persistent, true);
      assert.equal(statSync(cli.launcher).mode & 0o777, 0o755, 'the launcher was made executable');
      const token = await current();
      for (const m of collection.entries.values()) assert.ok(!m.value.includes(token));

      // A terminal opened now: `tokenrelay` found on PATH, through the sh launcher and VS Code's node.
      const env = collection.apply({ ...process.env, TOKENRELAY_SOCK: undefined, PATH: process.env.PATH });
      const r = await sh('tokenrelay token && tokenrelay status --json', env);
      assert.equal(r.status, 0, r.stderr);
      const [printed, status] = r.stdout.trim().split('\n');
      assert.equal(printed, token);
      assert.equal(JSON.parse(status).gitUsername, 'x-access-token');
      assert.equal(JSON.parse(status).socketFallback, false);
      // tokenrelay.git.hosts is the window's setting, read on each git request.
      settings['tokenrelay.git.hosts'] = ['git.example.com'];
      const refused = await sh('tokenrelay git-credential get', env, 'protocol=https\nhost=other.example\n\n');
      assert.equal(refused.stdout, '');
      assert.match(refused.stderr, /other\.example is not in tokenrelay\.git\.hosts \(git\.example\.com\)/);
      const answered = await sh('tokenrelay git-credential get', env, 'protocol=https\nhost=git.example.com\n\n');
      assert.ok(answered.stdout.includes(`password=${token}\n`), answered.stderr);
    } finally {
      delete settings['tokenrelay.git.hosts'];
      bridge.dispose();
      process.env.XDG_RUNTIME_DIR = savedXdg;
      if (savedXdg === undefined) delete process.env.XDG_RUNTIME_DIR;
      delete settings['tokenrelay.git.username'];
    }
    await waitFor('the socket removed on dispose', 5_000, () => !existsSync(collection.get('TOKENRELAY_SOCK')!.value));
    assert.deepEqual(warnings, [], 'sockets in the preferred directory: nothing to tell');
  });

  test('a socket directory another user planted: the bridge uses a fallback and tells the user why', async () => {
    const runtime = join(world.dir, 'runtime-planted');
    mkdirSync(join(runtime, 'tokenrelay'), { recursive: true, mode: 0o700 });
    chownSync(join(runtime, 'tokenrelay'), TEST_USER.uid, TEST_USER.gid);
    const savedXdg = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = runtime;
    warnings.length = 0;
    // A private temp directory as the fallback (the default ones, such as /tmp/tokenrelay-0, are the machine's).
    const fallback = join(world.dir, 'fallback');
    const collection = new FakeCollection();
    const context = { extensionPath: cli.extensionDir, environmentVariableCollection: collection } as unknown as vscode.ExtensionContext;
    const bridge = await startTerminalBridge(context, win.service, captureLog(), { fallbackSocketDirs: [fallback] });
    const sock = collection.get('TOKENRELAY_SOCK')!.value;
    try {
      assert.equal(dirname(sock), fallback, `in the fallback directory, not the planted one: ${sock}`);
      assert.ok(statSync(sock).isSocket());
      assert.equal(statSync(fallback).mode & 0o777, 0o700);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], new RegExp(`^Token Relay: Token Relay.s sockets are in ${fallback}, because .*${runtime}/tokenrelay belongs to another user`));
    } finally {
      bridge.dispose();
      process.env.XDG_RUNTIME_DIR = savedXdg;
      if (savedXdg === undefined) delete process.env.XDG_RUNTIME_DIR;
    }
    await waitFor('the fallback socket removed on dispose', 5_000, () => !existsSync(sock));
  });
});

describe('the sh launcher', () => {
  test("uses $VSCODE_TOKENRELAY_NODE with ELECTRON_RUN_AS_NODE=1, else node on PATH; works as `sh <path>` and via a symlink", async () => {
    const fakes = join(world.dir, 'fakes');
    mkdirSync(fakes, { recursive: true });
    const record = join(fakes, 'record');
    const wrapper = (name: string) => {
      const path = join(fakes, name);
      writeFileSync(path, `#!/bin/sh\necho "${name} ELECTRON_RUN_AS_NODE=$ELECTRON_RUN_AS_NODE" >> ${record}\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
      return path;
    };
    const electron = wrapper('electron');
    const nodeDir = join(fakes, 'path');
    mkdirSync(nodeDir, { recursive: true });
    writeFileSync(join(nodeDir, 'node'), readFileSync(wrapper('node')), { mode: 0o755 });
    const sock = win.server.socketPath;
    const token = await current();

    writeFileSync(record, '');
    const viaVscode = await runCli(sock, ['token'], { viaLauncher: true, env: { VSCODE_TOKENRELAY_NODE: electron, PATH: `${nodeDir}:${process.env.PATH}` } });
    assert.equal(viaVscode.stdout.trim(), token, viaVscode.stderr);
    assert.equal(readFileSync(record, 'utf8'), 'electron ELECTRON_RUN_AS_NODE=1\n');

    writeFileSync(record, '');
    const viaPath = await runCli(sock, ['token'], { viaLauncher: true, env: { VSCODE_TOKENRELAY_NODE: undefined, PATH: `${nodeDir}:${process.env.PATH}` } });
    assert.equal(viaPath.stdout.trim(), token, viaPath.stderr);
    assert.equal(readFileSync(record, 'utf8'), 'node ELECTRON_RUN_AS_NODE=\n');

    chmodSync(cli.launcher, 0o644);
    const asSh = await sh(`sh "${cli.launcher}" token`, { ...process.env, TOKENRELAY_SOCK: sock });
    assert.equal(asSh.stdout.trim(), token, asSh.stderr);
    chmodSync(cli.launcher, 0o755);

    const link = join(fakes, 'tokenrelay');
    symlinkSync(cli.launcher, link);
    const viaLink = await sh(`"${link}" token`, { ...process.env, TOKENRELAY_SOCK: sock });
    assert.equal(viaLink.stdout.trim(), token, viaLink.stderr);

    const noNode = await sh(`"${cli.launcher}" token`, { TOKENRELAY_SOCK: sock, PATH: '/nonexistent' });
    assert.equal(noNode.status, 4);
    assert.match(noNode.stderr, /no Node\.js runtime found/);
  });

  test('exec does not leak ELECTRON_RUN_AS_NODE into the command', async () => {
    const r = await runCli(win.server.socketPath, ['exec', '--', 'sh', '-c', 'echo "E=${ELECTRON_RUN_AS_NODE-unset}"'],
      { viaLauncher: true, env: { VSCODE_TOKENRELAY_NODE: process.execPath } });
    assert.equal(r.stdout, 'E=unset\n', r.stderr);
  });
});

describe('after a window reload', () => {
  test('a terminal whose TOKENRELAY_SOCK names the previous (dead) socket uses the live window', async (t) => {
    // Under a parent the test user can pass through (0711), for the last check below.
    const parent = mkdtempSync('/tmp/trr-');
    t.after(() => rmSync(parent, { recursive: true, force: true }));
    chmodSync(parent, 0o711);
    const dir = join(parent, 'reload');
    const log = captureLog();
    const before = await serveTerminals({ socketDir: dir, service: win.service, log });
    const terminalEnv = before.socketPath; // what the restored terminal's shell still has
    await before.close(); // the window reloads ...
    // ... leaving, say, a dead window's socket file behind as well
    const dead = await staleSocket(join(dir, 'term-ffffffffffffffffffffffff.sock'));
    const afterReload = await serveTerminals({ socketDir: dir, service: win.service, log });
    try {
      const r = await runCli(terminalEnv, ['token']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), await current());
      const status = JSON.parse((await runCli(terminalEnv, ['status', '--json'])).stdout);
      assert.equal(status.socket, afterReload.socketPath);
      assert.equal(status.socketFallback, true);
      assert.match((await runCli(terminalEnv, ['status'])).stdout, /this terminal's own window is gone; using another live window/);
    } finally {
      await afterReload.close();
    }
    // With no window left: the reload directory holds only dead sockets (the terminal's own and another
    // window's). Run as a user with no window anywhere (root's directories may hold other sessions'
    // windows), who owns that directory and its sockets, so they are what its search finds and skips.
    for (const path of [terminalEnv, dead]) await staleSocket(path);
    for (const path of [dir, terminalEnv, dead]) chownSync(path, TEST_USER.uid, TEST_USER.gid);
    assert.deepEqual(readdirSync(dir).sort(), [basename(terminalEnv), basename(dead)].sort(), 'only the dead sockets are left');
    const gone = await runCliAs(TEST_USER, ['token'], { HOME: '/nonexistent/home', XDG_RUNTIME_DIR: '/nonexistent/run', TOKENRELAY_SOCK: dead });
    assert.equal(gone.code, 4, gone.stderr);
    assert.match(gone.stderr, new RegExp(`window that started this terminal is gone \\(nothing listens at ${dead}\\), no other Token Relay window or agent is running, and nothing is configured for use without one`));
  });

  test('a socket owned by another user is refused, never sent a request', async () => {
    const dir = join(world.dir, 'foreign');
    const server = await serveTerminals({ socketDir: dir, service: win.service, log: captureLog() });
    try {
      chownSync(server.socketPath, 65534, 65534);
      const handled = win.handled.length;
      const r = await runCli(server.socketPath, ['token', '--rejected', '-'], { input: 'some-token' });
      assert.equal(r.code, 4);
      assert.match(r.stderr, /belongs to another user; refusing to use it\. Open this terminal from VS Code/);
      assert.equal(win.handled.length, handled);
    } finally {
      await server.close();
    }
  });
});

describe('git credential helper', () => {
  const gitEnv = () => ({
    ...process.env,
    PATH: `${cli.binDir}${delimiter}${process.env.PATH}`,
    TOKENRELAY_SOCK: win.server.socketPath,
    HOME: join(world.dir, 'home'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
  });
  const git = (args: string[], input = '', cwd = world.dir) => run('git', args, { env: gitEnv(), input, cwd });

  before(() => {
    mkdirSync(join(world.dir, 'home'), { recursive: true });
  });

  test('git credential fill/approve/reject through `!tokenrelay git-credential`', async () => {
    const helper = ['-c', 'credential.https://example.com.helper=!tokenrelay git-credential'];
    const token = await current();
    const fill = await git([...helper, 'credential', 'fill'], 'protocol=https\nhost=example.com\npath=org/repo.git\n\n');
    assert.equal(fill.status, 0, fill.stderr);
    const lines = fill.stdout.trim().split('\n');
    assert.ok(lines.includes('username=oauth2'), fill.stdout);
    assert.ok(lines.includes(`password=${token}`), fill.stdout);
    // Not configured for other hosts: the helper is not asked.
    const other = await git([...helper, 'credential', 'fill'], 'protocol=https\nhost=elsewhere.example\n\n');
    assert.notEqual(other.status, 0);
    assert.ok(!other.stdout.includes(token));

    world.idp.resetCounters();
    const approve = await git([...helper, 'credential', 'approve'], `protocol=https\nhost=example.com\nusername=oauth2\npassword=${token}\n\n`);
    assert.equal(approve.status, 0, approve.stderr);
    assert.equal(world.idp.counters().refreshGrants, 0, 'store is a no-op');
    const reject = await git([...helper, 'credential', 'reject'], `protocol=https\nhost=example.com\nusername=oauth2\npassword=${token}\n\n`);
    assert.equal(reject.status, 0, reject.stderr);
    assert.equal(world.idp.counters().refreshGrants, 1, 'erase reported the token as rejected: one refresh');
    const fresh = await current();
    assert.notEqual(fresh, token);
    const again = await git([...helper, 'credential', 'fill'], 'protocol=https\nhost=example.com\n\n');
    assert.ok(again.stdout.includes(`password=${fresh}\n`));
    // Erasing the old token again does not refresh again.
    await git([...helper, 'credential', 'reject'], `protocol=https\nhost=example.com\nusername=oauth2\npassword=${token}\n\n`);
    assert.equal(world.idp.counters().refreshGrants, 1);
  });

  test('the helper protocol directly: get prints username/password/expiry; store and unknown actions are no-ops', async () => {
    const sock = win.server.socketPath;
    const get = await runCli(sock, ['git-credential', 'get'], { input: 'protocol=https\nhost=example.com\n\n' });
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^username=oauth2\npassword=\S+\npassword_expiry_utc=\d+\n$/);
    const expiry = Number(/password_expiry_utc=(\d+)/.exec(get.stdout)![1]);
    assert.ok(Math.abs(expiry * 1000 - (await win.service.getToken()).expiresAt) < 1000);
    assert.equal((await runCli(sock, ['git-credential', 'store'], { input: 'protocol=https\nhost=x\npassword=p\n\n' })).stdout, '');
    assert.equal((await runCli(sock, ['git-credential', 'capability'], { input: '' })).code, 0);
    assert.equal((await runCli(sock, ['git-credential'])).code, 2);
  });

  test('git clone and fetch over HTTP with the token as the password; a revoked token heals after one failed command', async () => {
    const repos = join(world.dir, 'repos');
    mkdirSync(repos, { recursive: true });
    execFileSync('git', ['init', '--bare', '-q', '--initial-branch=main', join(repos, 'demo.git')]);
    const seed = join(world.dir, 'seed');
    execFileSync('git', ['init', '-q', seed]);
    execFileSync('git', ['-C', seed, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '--allow-empty', '-m', 'hello']);
    execFileSync('git', ['-C', seed, 'push', '-q', join(repos, 'demo.git'), 'HEAD:refs/heads/main']);
    const remote = await startGitServer(repos, async (user, password) => user === 'oauth2' && (await world.idp.introspect(password)).active === true);
    try {
      const helper = ['-c', `credential.${remote.url}.helper=!tokenrelay git-credential`];
      const clone = await git([...helper, 'clone', '-q', `${remote.url}/demo.git`, join(world.dir, 'clone')]);
      assert.equal(clone.status, 0, clone.stderr);
      assert.equal(execFileSync('git', ['-C', join(world.dir, 'clone'), 'log', '--format=%s'], { encoding: 'utf8' }).trim(), 'hello');
      assert.ok(remote.accepted.includes(await current()));

      // The server revokes the token early: git's erase reports it, the next command works. The
      // current token replaced a rejected one moments ago (the first test's erase), and a second
      // rejection that soon is bounded (rejectedBound.test.ts): start from a new sign-in instead.
      await world.signInAccount();
      const signedIn = await current();
      assert.equal((await git([...helper, 'ls-remote', `${remote.url}/demo.git`])).status, 0);
      assert.ok(remote.accepted.includes(signedIn));
      assert.ok(world.idp.revokeLatestAccessToken());
      world.idp.resetCounters();
      const failed = await git([...helper, 'ls-remote', `${remote.url}/demo.git`]);
      assert.notEqual(failed.status, 0);
      assert.equal(world.idp.counters().refreshGrants, 1, 'git erased the rejected token: one refresh');
      const healed = await git([...helper, 'ls-remote', `${remote.url}/demo.git`]);
      assert.equal(healed.status, 0, healed.stderr);
      assert.match(healed.stdout, /refs\/heads\/main/);
      assert.equal(world.idp.counters().refreshGrants, 1);
    } finally {
      await remote.close();
    }
  });
});

/** git smart HTTP (git http-backend as CGI) behind HTTP Basic checked by a callback. */
async function startGitServer(root: string, check: (user: string, password: string) => Promise<boolean>) {
  const accepted: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user, ...rest] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
    const password = rest.join(':');
    if (!basic || !(await check(user, password).catch(() => false))) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
      return;
    }
    accepted.push(password);
    cgi(root, req, user, (status, headers, body) => { res.writeHead(status, headers); body.pipe(res); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, accepted, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

function cgi(root: string, req: IncomingMessage, user: string, reply: (status: number, headers: Record<string, string>, body: NodeJS.ReadableStream) => void): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const child = spawn('git', ['http-backend'], {
    env: {
      ...process.env, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', REMOTE_USER: user,
      REQUEST_METHOD: req.method, PATH_INFO: url.pathname, QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '', GATEWAY_INTERFACE: 'CGI/1.1',
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    child.stdout.off('data', onData);
    child.stdout.pause();
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
      else headers[k] = v;
    }
    child.stdout.unshift(head.subarray(end + 4));
    reply(status, headers, child.stdout);
  };
  child.stdout.on('data', onData);
}
