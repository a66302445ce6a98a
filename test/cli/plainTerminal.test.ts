// Every terminal of the user (issue 12 §1): a shell that VS Code did not start (tmux, ssh, cron) has
// no TOKENRELAY_SOCK. The CLI, run with a clean environment (`env -i` plus PATH, HOME and
// XDG_RUNTIME_DIR), finds the newest live window socket of this user, skipping stale sockets and
// sockets of other users; TOKENRELAY_SOCK still wins when set; with no window the error says what to do.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { serveTerminals, type TerminalServer } from '../../src/ipc/tokenServer.ts';
import { TEST_USER, captureLog, cliBundle, runChild, runCliAs, startWindow, type TestWindow } from './support.ts';

/** A uid no account has (chown needs no account). */
const STRANGER = 12_345;

let world: World;
let win: TestWindow;
let xdg: string;
let home: string;
let socketDir: string;
const windows: { server: TerminalServer; served: string[] }[] = [];

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world);
  xdg = mkdtempSync('/tmp/trx-');
  home = mkdtempSync('/tmp/trh-');
  socketDir = join(xdg, 'tokenrelay');
  // Two live windows of this user, the second started later (file times are coarse: set them apart).
  for (let i = 0; i < 2; i++) await openWindow(socketDir);
  windows.forEach((w, i) => startedAgo(w.server.socketPath, 20 - 10 * i));
  const [a, b] = windows.map((w) => lstatSync(w.server.socketPath).mtimeMs);
  assert.ok(b > a, 'the second window\'s socket is newer');
});

after(async () => {
  for (const w of windows) await w.server.close();
  await win?.close();
  await world?.close();
  for (const d of [xdg, home]) if (d) rmSync(d, { recursive: true, force: true });
});

async function openWindow(dir: string): Promise<{ server: TerminalServer; served: string[] }> {
  const served: string[] = [];
  const server = await serveTerminals({ socketDir: dir, fallbackSocketDirs: [], service: win.service, log: captureLog(), onHandled: (route) => served.push(route) });
  const w = { server, served };
  windows.push(w);
  return w;
}

/** Sets a socket's time as if its window had started `seconds` ago (the CLI orders by mtime). */
function startedAgo(path: string, seconds: number): void {
  const at = new Date(Date.now() - seconds * 1000);
  utimesSync(path, at, at);
}

const current = async () => (await win.service.getToken()).accessToken;

/** The CLI as a plain terminal runs it: `env -i` with only PATH, HOME and XDG_RUNTIME_DIR (plus `extra`). */
async function plain(args: string[], extra: Record<string, string> = {}) {
  const vars = { PATH: process.env.PATH!, HOME: home, XDG_RUNTIME_DIR: xdg, ...extra };
  return runChild('env', ['-i', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), process.execPath, (await cliBundle()).cliJs, ...args], { cwd: '/', timeoutMs: 30_000 });
}

/** `text` with every token the IdP issued replaced by <token>, for failure messages. */
const masked = (text: string) => world.idp.issuedTokens().reduce((t, token) => t.split(token).join('<token>'), text);

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A socket file of a window that died without cleaning up: nobody listens on it. */
async function staleSocket(dir: string): Promise<string> {
  const path = join(dir, 'term-eeeeeeeeeeeeeeeeeeeeeeee.sock');
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => { require('fs').chmodSync(${JSON.stringify(path)}, 0o600); console.log('up'); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return path;
}

describe('a plain terminal (no TOKENRELAY_SOCK)', () => {
  test('finds the newest live window; `status` says this is not a VS Code terminal and which window socket answers', async () => {
    const [older, newer] = windows;
    const servedBefore = older.served.length;
    const token = await plain(['token']);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout.trim(), await current());
    const status = await plain(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`terminal: +not a VS Code terminal \\(TOKENRELAY_SOCK is not set\\); answered by the socket ${newer.server.socketPath}\\n`));
    const json = JSON.parse((await plain(['status', '--json'])).stdout);
    assert.equal(json.socket, newer.server.socketPath);
    assert.equal(json.vscodeTerminal, false);
    assert.equal(json.state, 'signed-in');
    assert.equal(older.served.length, servedBefore, 'the older window was not asked');
    assert.deepEqual(newer.served.slice(-3), ['token', 'status', 'status']);
  });

  test('a stale socket and a live socket of another user, both newer, are skipped; the foreign one is never sent a request', async () => {
    const foreign = await openWindow(socketDir);
    chownSync(foreign.server.socketPath, STRANGER, STRANGER);
    const stale = await staleSocket(socketDir); // after the window start, which removes stale sockets
    for (const path of [stale, foreign.server.socketPath]) startedAgo(path, 0);
    const live = windows[1];
    try {
      assert.ok(lstatSync(stale).isSocket(), 'the stale socket is there to be skipped');
      const r = await plain(['token']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), await current());
      assert.equal(JSON.parse((await plain(['status', '--json'])).stdout).socket, live.server.socketPath);
      assert.deepEqual(foreign.served, [], 'the other user\'s socket got no request');
    } finally {
      await foreign.server.close();
      windows.pop();
      rmSync(stale, { force: true });
    }
  });

  test('TOKENRELAY_SOCK still wins when set', async () => {
    const [older] = windows;
    const json = JSON.parse((await plain(['status', '--json'], { TOKENRELAY_SOCK: older.server.socketPath })).stdout);
    assert.equal(json.socket, older.server.socketPath);
    assert.equal(json.vscodeTerminal, true);
    assert.equal(json.socketFallback, false);
  });

  test('no window of this user (another user\'s windows do not count): exit 4, and the error says to open a VS Code window with Token Relay', async () => {
    if (process.getuid!() !== 0) return assert.fail('this test needs root to run the CLI as another user');
    // The other user's search is pointed at a socket directory of this user with a live window in
    // it, both opened up so that user could list and connect to them: only the CLI's ownership and
    // mode checks keep it from being used.
    const other = mkdtempSync('/tmp/tro-');
    chmodSync(other, 0o711); // its home does not exist: nothing configured for use without a window
    const rootXdg = mkdtempSync('/tmp/trx-');
    chmodSync(rootXdg, 0o711);
    const rootDir = join(rootXdg, 'tokenrelay');
    const w = await openWindow(rootDir);
    try {
      chmodSync(rootDir, 0o755);
      chmodSync(w.server.socketPath, 0o666);
      const reach = await runChild('setpriv', [`--reuid=${TEST_USER.uid}`, `--regid=${TEST_USER.gid}`, '--clear-groups', process.execPath, '-e',
        `const s = require('net').connect(require('path').join(${JSON.stringify(rootDir)}, require('fs').readdirSync(${JSON.stringify(rootDir)})[0])); s.on('connect', () => { console.log('reachable'); s.destroy(); }); s.on('error', (e) => console.log(e.code));`],
        { cwd: '/', timeoutMs: 30_000 });
      assert.equal(reach.stdout, 'reachable\n', `the other user can list the directory and connect to the window: ${reach.stderr}`);
      const served = w.served.length;
      const dirs = [rootDir, `/run/user/${TEST_USER.uid}/tokenrelay`, `/tmp/tokenrelay-${TEST_USER.uid}`, join(other, 'home', '.cache', 'tokenrelay', 'sock')].map(escape).join(', ');
      for (const args of [['token'], ['status']]) {
        const r = await runCliAs(TEST_USER, args, { HOME: join(other, 'home'), XDG_RUNTIME_DIR: rootXdg });
        assert.equal(r.code, 4, `${args[0]}: ${masked(r.stdout + r.stderr)}`);
        assert.match(r.stderr, new RegExp(`No Token Relay window or agent of this user is running \\(TOKENRELAY_SOCK is not set: this is not a VS Code terminal, and no live socket is in ${dirs}\\), and nothing is configured for use without one`));
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      }
      assert.equal(w.served.length, served, 'this user\'s window got no request from the other user');
      // The same user's view, for contrast: with a window running, the same clean environment works.
      assert.equal((await plain(['status'])).code, 0);
    } finally {
      await w.server.close();
      windows.splice(windows.indexOf(w), 1);
      for (const d of [other, rootXdg]) rmSync(d, { recursive: true, force: true });
    }
  });
});
