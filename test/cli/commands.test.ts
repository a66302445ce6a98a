// Every `tokenrelay` command end to end: the bundled CLI as a child process, the window's terminal
// socket, a real Broker as the TokenService, the real IdP and its protected API.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { TEST_USER, cliBundle, runChild, runCli, runCliAs, startWindow, type TestWindow } from './support.ts';

let world: World;
let win: TestWindow;
let sock: string;

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  win = await startWindow(world);
  sock = win.server.socketPath;
});

after(async () => {
  await win?.close();
  await world?.close();
});

const current = async () => (await win.service.getToken()).accessToken;
/**
 * Tests that make the server reject the current token start from a new sign-in: a token that
 * replaced a rejected one moments ago is not refreshed on a second rejection (rejectedBound.test.ts).
 */
const fromNewSignIn = () => world.signInAccount();

describe('before sign-in (a terminal opened before sign-in)', () => {
  test('token exits 3 and names the fix', async () => {
    const r = await runCli(sock, ['token']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^tokenrelay: You are not signed in to Token Relay\. Sign in from the Accounts menu or the Token Relay status bar item, or run "tokenrelay sign-in"\.\n$/);
  });

  test('status says signed out, exits 3, both as text and --json', async () => {
    const text = await runCli(sock, ['status']);
    assert.equal(text.code, 3);
    assert.match(text.stdout, /^state: +signed out - sign in from the Accounts menu/m);
    const json = await runCli(sock, ['status', '--json']);
    assert.equal(json.code, 3);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.state, 'signed-out');
    assert.equal(parsed.gitUsername, 'oauth2');
    assert.equal(parsed.socket, sock);
  });

  test('a cancelled sign-in exits 1 with the window\'s message', async () => {
    win.signIns.cancel = true;
    try {
      const r = await runCli(sock, ['sign-in']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^tokenrelay: Sign-in was cancelled\. Run it again and complete it in the browser\.\n$/);
    } finally {
      win.signIns.cancel = false;
    }
  });

  test('sign-in asks the window, waits, and the same terminal then gets tokens without reopening', async () => {
    const r = await runCli(sock, ['sign-in']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Signed in as alice.\n');
    assert.equal(win.signIns.calls, 2);
    assert.equal(world.idp.counters().authorizationCodeGrants, 1);
    const token = await runCli(sock, ['token']);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, `${await current()}\n`);
    const again = await runCli(sock, ['sign-in']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, 'Already signed in as alice. Use --force to sign in again.\n');
    assert.equal(win.signIns.calls, 2, 'no further sign-in when already signed in');
  });
});

describe('token', () => {
  test('prints exactly the current token, accepted by the API', async () => {
    const r = await runCli(sock, ['token']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\S+\n$/);
    const token = r.stdout.trim();
    assert.equal(token, await current());
    assert.equal((await world.idp.introspect(token)).active, true);
    const api = await fetch(world.idp.apiUrl, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(api.status, 200);
  });

  test('a reader that closes the pipe first (`tokenrelay token | true`): exit 0, nothing on stderr', async () => {
    const { cliJs } = await cliBundle();
    // The reader has exited before node has started, so the write meets a closed pipe (EPIPE); a run
    // where it did not still passes the same assertions, so repeat to meet it.
    for (let i = 0; i < 5; i++) {
      const r = await runChild('bash', ['--norc', '--noprofile', '-c', `set -o pipefail; "${process.execPath}" "${cliJs}" token | true; echo "rc=\${PIPESTATUS[0]}"`],
        { env: { PATH: process.env.PATH, TOKENRELAY_SOCK: sock } });
      assert.equal(r.stdout, 'rc=0\n');
      assert.equal(r.stderr, '', 'no error and no stack trace for a closed pipe');
    }
  });

  test('--rejected - (stdin) refreshes once; reporting the replaced token again does not refresh', async () => {
    const old = await current();
    world.idp.resetCounters();
    const r = await runCli(sock, ['token', '--rejected', '-'], { input: `${old}\n` });
    assert.equal(r.code, 0, r.stderr);
    const fresh = r.stdout.trim();
    assert.notEqual(fresh, old);
    assert.equal(fresh, await current());
    assert.equal(world.idp.counters().refreshGrants, 1);
    // `=`: a token may begin with '-', which parseArgs would otherwise refuse as ambiguous (it names this fix).
    const again = await runCli(sock, ['token', `--rejected=${old}`]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout.trim(), fresh, 'an already replaced token gets the current one');
    assert.equal(world.idp.counters().refreshGrants, 1);
  });

  test('--scopes within the configuration works; an unconfigured scope is an error naming the fix', async () => {
    const ok = await runCli(sock, ['token', '--scopes', 'openid,api:read']);
    assert.equal(ok.code, 0);
    const bad = await runCli(sock, ['token', '--scopes', 'admin']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Token Relay is not configured for the scope\(s\) admin\. Add them to tokenrelay\.scopes/);
  });

  test('--min-valid is passed through and validated', async () => {
    const ok = await runCli(sock, ['token', '--min-valid', '5']);
    assert.equal(ok.code, 0);
    const bad = await runCli(sock, ['token', '--min-valid', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--min-valid needs a number of seconds.*tokenrelay token --help/);
  });
});

describe('status', () => {
  test('shows account, issuer, expiry and state, never a token', async () => {
    const token = await current();
    const r = await runCli(sock, ['status']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^state: +signed in$/m, "the same words as \"signed out\"");
    assert.match(r.stdout, /^account: +alice$/m);
    assert.match(r.stdout, new RegExp(`^issuer: +${world.idp.issuer.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(r.stdout, /^token expires: +\d{4}-\d\d-\d\dT.*\(in \d+ s\)$/m);
    assert.ok(!r.stdout.includes(token));
    const json = await runCli(sock, ['status', '--json']);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.state, 'signed-in');
    assert.deepEqual(parsed.account, { id: 'alice', label: 'alice' });
    assert.equal(parsed.issuer, world.idp.issuer);
    assert.match(parsed.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'RFC 3339, as the text and kubectl show it');
    assert.ok(parsed.scopes.length > 0 && parsed.scopes.every((s: unknown) => typeof s === 'string'), 'the granted scopes');
    assert.match(r.stdout, new RegExp(`^scopes: +${parsed.scopes.join(' ')}$`, 'm'));
    for (const secret of world.idp.issuedTokens()) assert.ok(!json.stdout.includes(secret), 'status --json leaked a token');
  });
});

describe('fetch', () => {
  test('calls the API with the bearer token and writes the body', async () => {
    const r = await runCli(sock, ['fetch', world.idp.apiUrl]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sub, 'alice');
  });

  test('survives a server-reported expiry with exactly one refresh grant', async () => {
    await fromNewSignIn();
    const before = await current();
    assert.ok(world.idp.revokeLatestAccessToken());
    world.idp.resetCounters();
    const r = await runCli(sock, ['fetch', world.idp.apiUrl]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sub, 'alice');
    const counters = world.idp.counters();
    assert.equal(counters.refreshGrants, 1);
    assert.equal(counters.api401s, 1, 'the first call was refused by the server');
    assert.equal(counters.apiCalls, 2, 'retried exactly once');
    assert.notEqual(await current(), before);
  });

  test('HTTP >= 400 exits non-zero and still writes the body; a persistent 401 is retried only once', async () => {
    const api = await startApi((req, res) => {
      if (req.url === '/missing') return res.writeHead(404).end('no such thing');
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end('denied');
    });
    try {
      await fromNewSignIn();
      world.idp.resetCounters();
      const missing = await runCli(sock, ['fetch', `${api.url}/missing`]);
      assert.equal(missing.code, 1);
      assert.equal(missing.stdout, 'no such thing');
      assert.match(missing.stderr, /HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/missing/);
      const denied = await runCli(sock, ['fetch', `${api.url}/x`]);
      assert.equal(denied.code, 1);
      assert.equal(api.calls.length - 1, 2, 'one call and exactly one retry');
      assert.notEqual(api.calls[1], api.calls[2], 'the retry carried the replacement token');
      assert.equal(world.idp.counters().refreshGrants, 1);
    } finally {
      await api.close();
    }
  });

  test('on a terminal the body ends with a newline, so the prompt does not join it; piped, the bytes are unchanged', async () => {
    const bodies: Record<string, string> = { '/bare': '{"sub":"alice"}', '/ended': 'line\n', '/empty': '' };
    const api = await startApi((req, res) => res.writeHead(200).end(bodies[req.url!]));
    try {
      for (const [path, body] of Object.entries(bodies)) {
        const piped = await runCli(sock, ['fetch', `${api.url}${path}`]);
        assert.equal(piped.code, 0, piped.stderr);
        assert.equal(piped.stdout, body, `${path}: not a terminal, nothing added`);
        // A terminal: util-linux `script` runs the CLI on a pty (which shows "\n" as "\r\n").
        const tty = await onTerminal(`${process.execPath} ${(await cliBundle()).cliJs} fetch ${api.url}${path}`);
        assert.equal(tty.code, 0, tty.output);
        assert.equal(tty.output, body === '' ? '' : `${body.replace(/\n$/, '')}\r\n`, `${path}: on a terminal, exactly one final newline`);
      }
    } finally {
      await api.close();
    }
  });

  test('sends method, headers and data; refuses plain http to a remote host and bad arguments', async () => {
    const api = await startApi((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; }).on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, x: req.headers['x-demo'], type: req.headers['content-type'], body }));
      });
    });
    try {
      const r = await runCli(sock, ['fetch', `${api.url}/echo`, '-X', 'put', '-H', 'X-Demo: 1', '-H', 'content-type: application/json', '-d', '{"a":1}']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { method: 'PUT', x: '1', type: 'application/json', body: '{"a":1}' });
      assert.equal(api.calls.at(-1), await current());
      const stdin = await runCli(sock, ['fetch', `${api.url}/echo`, '-d', '@-'], { input: 'from-stdin' });
      assert.equal(JSON.parse(stdin.stdout).body, 'from-stdin');
      assert.equal(JSON.parse(stdin.stdout).method, 'POST');
    } finally {
      await api.close();
    }
    for (const args of [['fetch'], ['fetch', 'not a url'], ['fetch', 'ftp://x/'], ['fetch', 'http://example.com/'],
      ['fetch', 'https://example.com/', '-H', 'Authorization: Bearer x'], ['fetch', 'https://example.com/', '-H', 'nocolon']]) {
      const r = await runCli(sock, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /tokenrelay fetch --help|use https, or pass --allow-http/);
    }
  });
});

describe('exec', () => {
  test('puts the token in the child environment only (default name, --env NAME), never in argv', async () => {
    const token = await current();
    const show = 'process.stdout.write(JSON.stringify({ a: process.env.TOKENRELAY_ACCESS_TOKEN ?? null, b: process.env.MY_TOKEN ?? null, argv: process.argv }))';
    const r = await runCli(sock, ['exec', '--', process.execPath, '-e', show]);
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout);
    assert.equal(seen.a, token);
    assert.ok(!JSON.stringify(seen.argv).includes(token));
    const named = await runCli(sock, ['exec', '--env', 'MY_TOKEN', process.execPath, '-e', show]);
    assert.equal(JSON.parse(named.stdout).b, token);
    assert.equal(JSON.parse(named.stdout).a, null);
  });

  test("exits with the child's status; 127 for a missing command; usage errors exit 2", async () => {
    assert.equal((await runCli(sock, ['exec', '--', 'sh', '-c', 'exit 7'])).code, 7);
    const missing = await runCli(sock, ['exec', '--', 'no-such-command-tokenrelay']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /Command not found: no-such-command-tokenrelay/);
    assert.equal((await runCli(sock, ['exec'])).code, 2);
    assert.equal((await runCli(sock, ['exec', '--env', '1BAD', '--', 'true'])).code, 2);
  });
});

describe('exec signals', () => {
  test('SIGTERM to tokenrelay reaches the command, and its status comes back', async () => {
    const { cliJs } = await cliBundle();
    const child = spawn(process.execPath, [cliJs, 'exec', '--', 'sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'],
      { env: { ...process.env, TOKENRELAY_SOCK: sock }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 42);
  });
});

describe('usage, help and exit codes', () => {
  test('--help on every command', async () => {
    for (const cmd of ['token', 'status', 'fetch', 'exec', 'git-credential', 'sign-in']) {
      const r = await runCli(undefined, [cmd, '--help']);
      assert.equal(r.code, 0, cmd);
      assert.match(r.stdout, new RegExp(`^Usage: tokenrelay ${cmd}`), cmd);
    }
    // A token may begin with '-': only the `=` form is documented for a token on the command line.
    const token = await runCli(undefined, ['token', '--help']);
    assert.match(token.stdout, /--rejected=TOKEN/);
    assert.doesNotMatch(token.stdout, /--rejected TOKEN/);
    const top = await runCli(undefined, ['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Exit codes:\n  0  ok\n  1  error/);
  });

  test('usage errors exit 2', async () => {
    assert.equal((await runCli(sock, [])).code, 2);
    const unknown = await runCli(sock, ['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown command "frobnicate"\. Run "tokenrelay --help"/);
    const flag = await runCli(sock, ['token', '--bogus']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option '--bogus'.*tokenrelay token --help/);
  });

  test('no window and nothing configured: exit 4 naming sign-in from the terminal or a VS Code window (no TOKENRELAY_SOCK, or a dead one)', async () => {
    // As a user with no windows anywhere: this user's (root's) directories may hold other sessions' windows.
    const vars = { HOME: '/nonexistent/home', XDG_RUNTIME_DIR: '/nonexistent/run' };
    const unset = await runCliAs(TEST_USER, ['token'], vars);
    assert.equal(unset.code, 4);
    assert.match(unset.stderr, /TOKENRELAY_SOCK is not set.*nothing is configured for use without one.*tokenrelay sign-in --issuer URL --client-id ID.*open a VS Code window with Token Relay/);
    const dead = await runCliAs(TEST_USER, ['token'], { ...vars, TOKENRELAY_SOCK: '/nonexistent/tokenrelay/term-00.sock' });
    assert.equal(dead.code, 4);
    assert.match(dead.stderr, /window that started this terminal is gone.*no other Token Relay window or agent is running, and nothing is configured for use without one/);
  });

  test('identity provider unreachable: exit 5', async () => {
    await fromNewSignIn();
    const token = await current();
    await world.idp.setFault('refuse');
    try {
      const r = await runCli(sock, ['token', '--rejected', '-'], { input: token });
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /identity provider could not be reached/);
    } finally {
      await world.idp.setFault('none');
    }
    await new Promise((r) => setTimeout(r, 500)); // the backoff window of the failed refresh
  });
});

interface Api { url: string; calls: (string | undefined)[]; close(): Promise<void> }

/** Runs a shell command on a pseudo-terminal (util-linux `script`), asynchronously: the window answers from this process. */
function onTerminal(command: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, TOKENRELAY_SOCK: sock }, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function startApi(handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<Api> {
  const calls: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    calls.push(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
