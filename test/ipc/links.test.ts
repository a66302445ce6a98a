// Links (issue 11 item 8): 1,000 connections held open against a window process's terminal and peer
// sockets. Its file descriptors must stay within the per-process cap, a real CLI call and a sibling's
// request must be answered during the flood, idle links must be closed by the idle timeout, and a
// link with a request in progress (a terminal waiting for a sign-in) must survive both.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IpcRemoteError, IpcUnavailableError, postJson } from '../../src/ipc/jsonClient.ts';
import { EVICTABLE_AFTER_MS, MAX_LINKS } from '../../src/ipc/linkCap.ts';
import { runCli } from '../cli/support.ts';
import { until, waitFor } from '../support/wait.ts';

const IDLE_MS = 3000;
const FLOOD = 1000;

let dir: string;
let child: ChildProcess;
let sockets: { terminal: string; peer: string };
let output = '';

before(async () => {
  dir = mkdtempSync('/tmp/trl-');
  child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'linkWindow.ts'), dir, String(IDLE_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  sockets = await new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (output.includes('\n')) resolve(JSON.parse(output.split('\n')[0]));
    });
    child.once('exit', (code) => reject(new Error(`the link window exited (${code})`)));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A newcomer over the cap gets 503 `busy` and its link is closed at once: a client still writing
 * its request sees that close (EPIPE/ECONNRESET) before it can read the answer.
 */
function turnedAway(err: unknown): boolean {
  return err instanceof IpcRemoteError ? err.code === ('busy' as string) && err.status === 503
    : err instanceof IpcUnavailableError && ['EPIPE', 'ECONNRESET'].includes(err.reason);
}

const descriptors = () => readdirSync(`/proc/${child.pid}/fd`).length;

test(`${FLOOD} held-open links: descriptors stay within the cap (${MAX_LINKS}), a CLI call and a sibling are answered during the flood, idle links close, a busy one stays`, async (t) => {
  const baseline = descriptors();

  // A terminal waiting for a sign-in: the oldest link, silent, but busy.
  let signInSettled = false;
  const signIn = postJson(sockets.terminal, 'sign-in', {}, 120_000).finally(() => { signInSettled = true; });
  signIn.catch(() => undefined);
  await waitFor('the window to handle the sign-in request', 5000, () => output.includes('sign-in requested'));

  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, descriptors()); }, 2);
  let settled = 0;
  let open = 0;
  let closedByServer = 0;
  let notConnected = 0; // the kernel's listen backlog may turn some away before the server sees them
  const flood: Socket[] = [];
  const floodStarted = Date.now();
  for (let i = 0; i < FLOOD; i++) {
    // Most at the terminal socket, some at the peer socket: the cap is per process.
    const socket = connect(i % 5 === 4 ? sockets.peer : sockets.terminal);
    let connected = false;
    socket.once('connect', () => { connected = true; open++; settled++; });
    socket.once('close', () => {
      if (connected) { open--; closedByServer++; } else { notConnected++; settled++; }
    });
    socket.on('error', () => undefined);
    socket.resume(); // read, so that the server's close is seen
    flood.push(socket);
  }
  try {
    await waitFor('every flood connection to connect or be refused', 15_000, () => settled === FLOOD);
    await waitFor('the links over the cap to be closed', 5000, () => closedByServer + notConnected >= FLOOD - MAX_LINKS);
    assert.ok(notConnected < FLOOD / 2, `most of the flood reached the server (${notConnected} refused by the kernel)`);
    peak = Math.max(peak, descriptors());
    assert.ok(peak <= baseline + MAX_LINKS + 16, `descriptors peaked at ${peak} (baseline ${baseline}, cap ${MAX_LINKS})`);
    assert.ok(open > MAX_LINKS / 2, `the flood still holds ${open} links open`);
    t.diagnostic(`window descriptors: baseline ${baseline}, peak ${peak} during ${FLOOD} connections (cap ${MAX_LINKS}); ${closedByServer} closed by the window, ${notConnected} refused by the kernel`);

    // During the flood: a real CLI call through the terminal socket, and a sibling's key request.
    // Links younger than EVICTABLE_AFTER_MS are not evicted (newcomers get 503 `busy`, which the CLI
    // retries); from then on the flood's idle links make room for them at once.
    await until(floodStarted + EVICTABLE_AFTER_MS);
    const status = await runCli(sockets.terminal, ['status']);
    assert.equal(status.code, 3, status.stderr);
    assert.match(status.stdout, /state: +signed out/);
    assert.deepEqual(await postJson(sockets.peer, 'key', { id: 'no-such-key' }), { key: null });
    assert.ok(open > 0, 'both calls were answered while flood links were still open');
    assert.equal(signInSettled, false, 'the busy link was not evicted');

    // Idle links are closed after IDLE_MS of silence; the busy one is kept.
    await waitFor('the idle timeout to close every flood link', IDLE_MS + 5000, () => open === 0);
    await waitFor('descriptors back to the baseline', 5000, () => descriptors() <= baseline + 2);
    assert.equal(signInSettled, false, 'the link waiting for a sign-in outlived the idle timeout');
    assert.deepEqual(await postJson(sockets.terminal, 'status', {}).then((s) => (s as { state: string }).state), 'signed-out');
  } finally {
    clearInterval(sampler);
    for (const s of flood) s.destroy();
  }
});

test(`every link busy (${MAX_LINKS} terminals waiting for a sign-in): a newcomer gets 503 \`busy\` at once, and the CLI gives up after its bounded retries with that message`, async () => {
  const baseline = descriptors();
  // More terminals waiting for a sign-in than the cap admits (the previous test's one still waits).
  const outcomes: string[] = [];
  const waiting = Array.from({ length: MAX_LINKS + 10 }, () => postJson(sockets.terminal, 'sign-in', {}, 120_000)
    .then(() => outcomes.push('answered'), (e: unknown) => outcomes.push(turnedAway(e) ? 'turned away' : String(e))));
  await waitFor('the sign-ins over the cap to be turned away', 10_000, () => outcomes.length >= 10);
  assert.ok(outcomes.length >= 10 && outcomes.every((o) => o === 'turned away'), outcomes.join(', '));
  assert.ok(descriptors() <= baseline + MAX_LINKS + 8, `descriptors ${descriptors()} (baseline ${baseline})`);
  const started = Date.now();
  const refused = await postJson(sockets.terminal, 'status', {}).then(() => undefined, (e: unknown) => e);
  assert.ok(turnedAway(refused), String(refused));
  assert.ok(Date.now() - started < 3000, `refused at once (${Date.now() - started} ms)`);
  const cli = await runCli(sockets.terminal, ['status']);
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(cli.stderr, /This Token Relay host \(a window or agent\) has 256 connections open, none of them idle long enough to close; try again in a moment\.|The Token Relay window or agent closed the connection before answering \((EPIPE|ECONNRESET); it may have too many connections open\)\. Try again in a moment\./);
  // The waiting sign-ins end with the window process (after()).
  void waiting;
});
