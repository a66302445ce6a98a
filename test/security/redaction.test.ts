// Issue 11, item 1: no token value leaves a process or reaches disk, whatever the identity provider
// writes in its error bodies. The IdP's echo faults (test/idp/echo.ts) quote the presented refresh
// token, the current access token and the id_token in error_description for invalid_request,
// invalid_grant, 429 and 500. Windows (separate processes, one serving the real CLI on its socket)
// and an extension instance (fake vscode API) go through each; every output and every file written
// is then scanned for every token value the IdP issued.
import '../vscode/setup.ts';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { PLAIN_COPY_KEY, World } from '../harness/fixture.ts';
import type { WindowProcess } from '../harness/windowProcess.ts';
import { cliBundle, runCli } from '../cli/support.ts';
import { waitFor } from '../support/wait.ts';
import { ECHO_FAULTS, type EchoFault } from '../idp/echo.ts';
import { fake } from '../vscode/fake/vscode.ts';
import { World as VsCodeWorld, allLogText, browserLogin, idpSettings } from '../vscode/helpers.ts';
import { PROTOCOL_VERSION } from '../../src/ipc/wire.ts';
import { classifyOAuthError } from '../../src/oauth/errors.ts';
import { Redactor, redactor } from '../../src/core/redact.ts';

/** Everything that left a process, by where it was seen. */
const outputs: { where: string; text: string }[] = [];
const keep = (where: string, text: string | undefined) => { if (text) outputs.push({ where, text }); };
const totals = { files: 0, outputs: 0, tokens: 0, found: 0 };
const distinctFiles = new Set<string>();
const distinctTokens = new Set<string>();

// The fixture's plain copy of the sign-in for the benchmarks' naive baseline (never written by Token Relay).
const BASELINE_COPY = encodeURIComponent(PLAIN_COPY_KEY);

/** Every regular file under `dirs` (sockets and directories are walked past, not read). */
function filesUnder(...dirs: string[]): string[] {
  return dirs.flatMap((dir) => readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== BASELINE_COPY).map((e) => join(e.parentPath, e.name)));
}

/** Scans files and kept outputs for every token; returns where each one was found. */
function scan(tokens: string[], dirs: string[]): string[] {
  const found: string[] = [];
  const files = filesUnder(...dirs);
  for (const file of files) {
    const text = readFileSync(file).toString('latin1');
    for (const token of tokens) if (text.includes(token)) found.push(`file ${file}`);
  }
  for (const { where, text } of outputs) {
    const leaked = tokens.filter((token) => text.includes(token));
    if (!leaked.length) continue;
    // Where it leaked, every token shown as <token>: the report must not leak it again.
    const masked = tokens.reduce((t, token) => t.split(token).join('<token>'), text);
    const at = masked.indexOf('<token>');
    for (let i = 0; i < leaked.length; i++) found.push(`output ${where}: ${masked.slice(Math.max(0, at - 150), at + 150)}`);
  }
  totals.files += files.length;
  for (const file of files) distinctFiles.add(file);
  for (const token of tokens) distinctTokens.add(token);
  totals.outputs += outputs.length;
  totals.tokens += tokens.length;
  totals.found += found.length;
  outputs.length = 0;
  return found;
}

/** A raw terminal-socket request: the HTTP body exactly as the window sent it. */
function rawIpc(socketPath: string, route: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request({ socketPath, path: `/v${PROTOCOL_VERSION}/${route}`, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      let answer = '';
      res.setEncoding('utf8').on('data', (d: string) => { answer += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, text: answer }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

// `quoted`: the message quotes the server's description (oauth4webapi reads no body of a 5xx).
const EXPECTED: Record<EchoFault, { exit: number; says: RegExp; quoted: boolean }> = {
  'echo-invalid_request': { exit: 1, says: /refused the token refresh \(invalid_request: refresh_token \[redacted\]/, quoted: true },
  'echo-429': { exit: 5, says: /HTTP 429 temporarily_unavailable: refresh_token \[redacted\]/, quoted: true },
  'echo-500': { exit: 5, says: /HTTP 500 during the token refresh/, quoted: false },
  'echo-invalid_grant': { exit: 3, says: /no longer accepts the stored sign-in \(invalid_grant: refresh_token \[redacted\]/, quoted: true },
};

describe('windows and the CLI against an IdP that echoes tokens in its errors', () => {
  let world: World;
  let a: WindowProcess;
  let b: WindowProcess;

  before(async () => {
    world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
    await world.signInAccount();
    // a: the real AccountService behind the terminal socket; b: a bare broker on the same slot.
    a = await world.spawn('window-a', { slotsRoot: world.slotsRoot, terminal: true });
    b = await world.spawn('window-b', world.accountSlot());
  });
  after(async () => { await world?.close(); });

  // invalid_grant last: it ends the sign-in.
  const order: EchoFault[] = ['echo-invalid_request', 'echo-429', 'echo-500', 'echo-invalid_grant'];
  assert.deepEqual([...order].sort(), [...ECHO_FAULTS].sort());

  for (const fault of order) {
    test(`${fault}: CLI text and --json, IPC bodies, the other window, logs and files carry no token`, { timeout: 60_000 }, async (t) => {
      const sock = a.socketPath!;
      // A new sign-in each time: a token that replaced a rejected one moments ago is not refreshed
      // on a second rejection (test/cli/rejectedBound.test.ts), and every case needs that refresh.
      await world.signInAccount();
      const [held] = await b.getTokens(1);
      assert.ok(held.ok, held.message);
      const current = held.token!;
      await world.idp.setFault(fault);
      t.after(() => world.idp.setFault('none'));
      const { exit, says } = EXPECTED[fault];

      // A server rejected the token: the CLI reports it, the window refreshes, the IdP answers its echo.
      const reported = await runCli(sock, ['token', '--rejected', '-'], { input: `${current}\n` });
      keep('token --rejected stdout', reported.stdout);
      keep('token --rejected stderr', reported.stderr);
      assert.equal(reported.code, exit, reported.stderr);
      assert.match(reported.stderr, says);

      // The same failure met by another window (a separate process): fresh, or through the shared back-off.
      const [other] = await b.getTokens(1, { rejectedAccessToken: current });
      assert.equal(other.ok, false);
      keep('window-b getToken error', other.message);
      keep('window-b status', JSON.stringify(await b.request({ cmd: 'status' })));

      // Every other way out: fetch's 401 path, git's erase, status, and the socket's raw bodies.
      world.idp.revokeAccessToken(current);
      const fetched = await runCli(sock, ['fetch', world.idp.apiUrl]);
      keep('fetch stdout', fetched.stdout);
      keep('fetch stderr', fetched.stderr);
      assert.notEqual(fetched.code, 0);
      const erased = await runCli(sock, ['git-credential', 'erase'], { input: `protocol=https\nhost=example.com\nusername=oauth2\npassword=${current}\n\n` });
      keep('git-credential erase stderr', erased.stderr);
      const status = await runCli(sock, ['status']);
      keep('status stdout', status.stdout);
      keep('status stderr', status.stderr);
      const json = await runCli(sock, ['status', '--json']);
      keep('status --json', json.stdout);
      assert.ok(JSON.parse(json.stdout).state, json.stdout);
      for (const [route, body] of [['token', { rejected: current }], ['report-rejected', { token: current }], ['status', {}]] as const) {
        const answer = await rawIpc(sock, route, body);
        keep(`IPC ${route} body`, answer.text);
        if (route !== 'status') assert.equal(answer.status, 409, world.idp.issuedTokens().reduce((t, token) => t.split(token).join('<token>'), answer.text));
      }
      keep('windows\' log', world.logs());

      await world.idp.setFault('none');
      if (fault !== 'echo-invalid_grant') {
        // Healed by itself once the IdP answers again; the new tokens are scanned for as well.
        await waitFor('a refresh after the fault', 10_000, async () => {
          const [r] = await b.getTokens(1, { rejectedAccessToken: current });
          return r.ok && r.token !== current;
        }, 200);
      }

      const tokens = world.idp.issuedTokens();
      assert.ok(tokens.length >= 3, 'access, refresh and id tokens were issued');
      const found = scan(tokens, [world.dir, (await cliBundle()).extensionDir]);
      t.diagnostic(`${fault}: ${totals.files} files and ${totals.outputs} outputs scanned so far for ${tokens.length} tokens; found ${found.length}`);
      assert.deepEqual(found, []);
    });
  }
});

describe('the extension (notifications, status bar, log) against an IdP that echoes tokens', () => {
  test('refresh failures with echoed tokens: nothing shown or logged carries a token', { timeout: 60_000 }, async (t) => {
    const { startIdp } = await import('../idp/server.ts');
    const idp = await startIdp({ accessTokenTtl: 60 });
    const world = new VsCodeWorld('isolated');
    fake.reset();
    try {
      fake.setSettings(idpSettings(idp));
      const win = await world.openWindow();
      fake.openExternal = browserLogin('alice');
      await win.provider.createSession(['openid'], {});
      for (const fault of ['echo-invalid_request', 'echo-500', 'echo-429', 'echo-invalid_grant'] as const) {
        await idp.setFault(fault);
        const shown = fake.messages.length;
        await fake.commands.get('tokenrelay.refreshNow')!.at(-1)!();
        await fake.waitFor(() => fake.messages.length > shown, 5000, `the ${fault} notification`);
        assert.match(fake.messages.at(-1)!.message, EXPECTED[fault].says);
        keep(`status bar tooltip (${fault})`, win.item.tooltipText);
        await idp.setFault('none');
        // Once the shared back-off ends (invalid_request has one too) a refresh works again; the next fault then meets the IdP itself.
        if (fault !== 'echo-invalid_grant') {
          await waitFor('a refresh after the fault', 10_000, () => win.service.refreshNow().then(() => true, () => false), 200);
        }
      }
      assert.match(win.item.tooltipText.replace(/\\/g, ''), /invalid_grant: refresh_token \[redacted\]/, 'the tooltip quotes the IdP, redacted');
      for (const m of fake.messages) keep(`notification ${m.severity}`, m.message);
      keep('log channel', allLogText());
      const found = scan(idp.issuedTokens(), [world.dir]);
      t.diagnostic(`extension: ${totals.files} files and ${totals.outputs} outputs scanned so far; found ${found.length}`);
      assert.deepEqual(found, []);
    } finally {
      await world.close();
      await idp.close();
    }
  });
});

describe('the redactor where a process knows the token', () => {
  test('a short opaque token (< 32 chars) a server echoes is masked by the process that sent it', async () => {
    const short = 'rt-4f9Kq2xZ8mPq'; // 15 chars: no pattern would catch it
    const r = new Redactor();
    r.remember(short);
    assert.equal(r.redact(`token ${short}. again /x/${short}/y`), 'token [redacted]. again /x/[redacted]/y');
    // The oauth layer redacts the real library's error as it is received.
    redactor.remember(short);
    const server: oauth.AuthorizationServer = { issuer: 'https://idp.example', token_endpoint: 'https://idp.example/token' };
    const response = new Response(JSON.stringify({ error: 'invalid_request', error_description: `bad refresh_token ${short}` }), { status: 400, headers: { 'content-type': 'application/json' } });
    const err = await oauth.processRefreshTokenResponse(server, { client_id: 'c' }, response).then(() => undefined, (e: unknown) => e);
    const classified = classifyOAuthError(err, 'the token refresh');
    assert.match(classified.message, /invalid_request: bad refresh_token \[redacted\]/);
    assert.ok(!classified.message.includes(short));
  });

  test('totals', (t) => {
    t.diagnostic(`scan totals: ${totals.files} file scans (${distinctFiles.size} distinct files), ${totals.outputs} outputs scanned, for ${distinctTokens.size} distinct token values (${totals.tokens} searches); ${totals.found} tokens found`);
    assert.ok(totals.files > 0 && totals.outputs > 0);
    assert.equal(totals.found, 0);
  });
});
