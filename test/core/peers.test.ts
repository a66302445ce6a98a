// How brokers hand generations to each other: two-way links, announcements, wake-ups, status.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { listenJson, type JsonServer } from '../../src/ipc/jsonServer.ts';
import { LINK_PROTOCOL, openEventLink } from '../../src/ipc/eventLink.ts';
import { newSocketPath, ensureSocketDir } from '../../src/ipc/socketDir.ts';
import { LockWaiter } from '../../src/core/lockWait.ts';
import { Journal } from '../../src/core/journal.ts';
import { Broker, type BrokerEvent } from '../../src/core/broker.ts';
import { silentLogger } from '../../src/core/redact.ts';
import type { Logger, RefreshClient, TokenSet } from '../../src/core/types.ts';
import { SnapshotStore } from '../harness/stores.ts';

const cleanups: (() => Promise<void> | void)[] = [];
// Links and servers are unref'd on purpose (they never keep a host alive); the test process is kept alive here.
let alive: NodeJS.Timeout | undefined;
beforeEach(() => { alive = setInterval(() => undefined, 1000); });
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); clearInterval(alive); });

const temp = (name: string) => mkdtempSync(join(tmpdir(), `tokenrelay-${name}-`));

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

test('event link: values flow both ways over one connection, and a malformed line ends it on both sides', { timeout: 10_000 }, async () => {
  const dir = await ensureSocketDir(temp('link'));
  const serverGot = deferred<unknown>();
  const serverClosed = deferred<string>();
  const server: JsonServer = await listenJson(newSocketPath(dir, 'test'), {
    log: silentLogger,
    requestTimeoutMs: 0,
    routes: {},
    links: {
      link: (link) => {
        link.send({ hello: 'from server' });
        return { event: (v) => serverGot.resolve(v), closed: (r) => serverClosed.resolve(r) };
      },
    },
  });
  cleanups.push(() => server.close());

  const clientGot: unknown[] = [];
  const clientClosed = deferred<string>();
  const firstToClient = deferred<void>();
  const client = openEventLink(server.socketPath, 'link', {
    event: (v) => { clientGot.push(v); firstToClient.resolve(); },
    closed: (r) => clientClosed.resolve(r),
  });
  client.send({ hello: 'from client' });
  assert.deepEqual(await serverGot.promise, { hello: 'from client' });
  await firstToClient.promise;
  assert.deepEqual(clientGot, [{ hello: 'from server' }]);

  client.close();
  assert.equal(await clientClosed.promise, 'closed here');
  assert.match(await serverClosed.promise, /ended|closed|ECONNRESET/, 'the other side learns the link ended');
});

test('event link: a line that is not JSON ends the link', { timeout: 10_000 }, async () => {
  const dir = await ensureSocketDir(temp('link'));
  const closed = deferred<string>();
  const server = await listenJson(newSocketPath(dir, 'test'), {
    log: silentLogger, routes: {},
    links: { link: () => ({ event: () => assert.fail('no value was valid'), closed: (r) => closed.resolve(r) }) },
  });
  cleanups.push(() => server.close());
  const raw = connect(server.socketPath);
  const gone = new Promise((resolve) => raw.once('close', resolve));
  raw.resume(); // read the 101 so that the close is seen
  raw.write(`GET /v1/link HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: ${LINK_PROTOCOL}\r\n\r\n{not json\n`);
  assert.equal(await closed.promise, 'malformed event');
  await gone;
});

test('event link: an idle link outlives the request timeout, and an unknown route is refused', { timeout: 10_000 }, async () => {
  const dir = await ensureSocketDir(temp('link'));
  const server = await listenJson(newSocketPath(dir, 'test'), {
    log: silentLogger, routes: {}, requestTimeoutMs: 200,
    links: { link: (link) => ({ event: (v) => link.send({ echo: v }), closed: () => undefined }) },
  });
  cleanups.push(() => server.close());
  const refused = deferred<string>();
  openEventLink(server.socketPath, 'nowhere', { event: () => assert.fail('not linked'), closed: (r) => refused.resolve(r) });
  assert.equal(await refused.promise, 'HTTP 404');

  const echoed: unknown[] = [];
  let next = deferred<void>();
  const closed: string[] = [];
  const client = openEventLink(server.socketPath, 'link', { event: (v) => { echoed.push(v); next.resolve(); }, closed: (r) => closed.push(r) });
  cleanups.push(() => client.close());
  client.send(1);
  await next.promise;
  // Idle through several of the server's request-timeout checks (the duration under test, not a sync).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  next = deferred<void>();
  client.send(2);
  await next.promise;
  assert.deepEqual(echoed, [{ echo: 1 }, { echo: 2 }]);
  assert.deepEqual(closed, []);
});

test('lock waiter: an event that lands between taking a mark and waiting ends the wait at once', { timeout: 5_000 }, async () => {
  const waiter = new LockWaiter(await Journal.open(temp('waiter')), 2000, silentLogger);
  const since = waiter.mark();
  waiter.notify('generation'); // e.g. an announcement adopted while the caller was reading the journal
  const started = Date.now();
  await waiter.nextEvent(60_000, since);
  assert.ok(Date.now() - started < 1000, 'the earlier event was not missed');
});

// ---- two brokers in one process, each with a secret view that never sees the other's writes ----

let counter = 0;
const tokens = (n: number): TokenSet => ({
  accessToken: `access-${n}-${'x'.repeat(40)}`, refreshToken: `refresh-${n}-${'y'.repeat(40)}`,
  tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now(),
});
const rotatingClient: RefreshClient = {
  refresh: async () => tokens(++counter + 100),
  revoke: async () => undefined,
};

/** B's log, and a hook called whenever B reads its own secret view. */
interface ForB { log?: Logger; onViewRead?: () => void }

async function brokers(forB: ForB = {}) {
  const slotDir = temp('slot');
  const socketDir = await ensureSocketDir(temp('sock'));
  const open = (name: string, { log = silentLogger, onViewRead }: ForB = {}) => {
    const store = new SnapshotStore(join(temp('store'), `${name}.json`));
    const get = store.get.bind(store);
    store.get = (key) => { onViewRead?.(); return get(key); };
    return Broker.create({ slotDir, socketDir, secretKey: 'k', store, client: rotatingClient, label: name, proactive: false, log });
  };
  const a = await open('a');
  cleanups.push(() => a.dispose());
  await a.signIn(tokens(1), { id: 'u1', label: 'User One' });
  const b = await open('b', forB); // its own view is empty: it holds generation 1 only through A
  cleanups.push(() => b.dispose());
  return { a, b, journal: await Journal.open(slotDir) };
}

test('brokers: a sibling whose secret view never sees the writes holds each new generation from the writer', { timeout: 10_000 }, async () => {
  const lines: string[] = [];
  const { a, b } = await brokers({ log: Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error']
    .map((level) => [level, (m: string) => lines.push(`${level} ${m}`)])) as unknown as Logger });
  assert.equal(b.peek()?.gen, 1, 'generation 1 came from the writer over a link');
  const refreshed = deferred<BrokerEvent>();
  b.onEvent((e) => { if (e.type === 'refreshed') refreshed.resolve(e); });
  const grant = await a.getToken({ rejectedAccessToken: a.peek()!.tokens.accessToken });
  assert.equal(grant.generation, 2);
  const event = await refreshed.promise;
  assert.equal(event.byThisProcess, false);
  assert.equal(b.peek()?.tokens.accessToken, grant.accessToken, 'the announced generation, adopted');
  assert.equal((await b.getToken()).accessToken, grant.accessToken);
  // Pushed, not pulled: the writer's announcement carried it (a fallback logs "not announced").
  assert.ok(lines.some((l) => /^debug Adopted generation 2 .*\(over a link\)$/.test(l)), lines.join('\n'));
  assert.deepEqual(lines.filter((l) => l.includes('not announced')), []);
});

test('brokers: concurrent callers share an answer only when they asked the same thing', { timeout: 10_000 }, async () => {
  const { a } = await brokers();
  const current = a.peek()!.tokens.accessToken;
  const before = counter;
  const [plain, first, second] = await Promise.all([
    a.getToken(), a.getToken({ rejectedAccessToken: current }), a.getToken({ rejectedAccessToken: current }),
  ]);
  assert.equal(plain.accessToken, current, 'a caller with nothing to report is not given what others asked for');
  assert.notEqual(first.accessToken, current, 'the reported token was replaced');
  assert.equal(second.accessToken, first.accessToken);
  assert.equal(counter - before, 1, 'one refresh for both reports of the same token');
  assert.notEqual(second, first, 'each caller gets its own copy');
});

test('brokers: a pruned spend claim of an old generation does not show "refreshing"', { timeout: 10_000 }, async () => {
  const { b, journal } = await brokers();
  const seen: string[] = [];
  const offline = deferred<void>();
  b.onEvent((e) => { seen.push(e.type); if (e.type === 'offline') offline.resolve(); });
  const other = { pid: process.pid, id: 'someone-else' };
  await journal.claimSpend(0, other); // what pruning an old generation's claim looks like to watchers
  // A later event in the same journal is the barrier: the claim's event was handled before it.
  await journal.writeStatus({ offlineUntil: Date.now() + 60_000, failures: 1, lastError: 'test', by: other });
  await offline.promise;
  assert.deepEqual(seen, ['offline']);
});

test('brokers: an offline status left by an older generation does not block the current one', { timeout: 10_000 }, async () => {
  const { a, b, journal } = await brokers();
  await a.getToken({ rejectedAccessToken: a.peek()!.tokens.accessToken });
  const other = { pid: process.pid, id: 'someone-else' };
  // What a sibling can read between adopting generation 2 and its writer clearing the failure of generation 1.
  await journal.writeStatus({ gen: 1, offlineUntil: Date.now() + 60_000, failures: 1, lastError: 'timed out', by: other });
  const three = await b.getToken({ rejectedAccessToken: b.peek()!.tokens.accessToken });
  assert.equal(three.generation, 3, 'refreshed, not reported offline');
  // A failure of the current generation still applies, and its message is not wrapped twice.
  await journal.writeStatus({ gen: 3, offlineUntil: Date.now() + 60_000, failures: 1, lastError: 'timed out during refresh', by: other });
  await assert.rejects(b.getToken({ rejectedAccessToken: three.accessToken }), (err: Error) => {
    assert.equal(err.message.match(/could not be reached/g)?.length, 1, err.message);
    assert.match(err.message, /\(timed out during refresh\)/);
    return true;
  });
});

test('brokers: a sign-out journaled while a sibling is still fetching the previous generation is not missed', { timeout: 15_000 }, async () => {
  let viewRead = deferred<void>();
  const { b, journal } = await brokers({ onViewRead: () => viewRead.resolve() });
  const gen1 = (await journal.latest())!;
  const signedOut = deferred<void>();
  const seen: string[] = [];
  b.onEvent((e) => { seen.push(e.type); if (e.type === 'signed-out') signedOut.resolve(); });
  // Generation 2 from a writer nobody can reach: B's pass looks for it until its view's catch-up wait ends.
  const ghost = { pid: process.pid, id: 'ghost', peer: join(temp('gone'), 'peer.sock') };
  viewRead = deferred<void>();
  await journal.write({ ...gen1, gen: 2, writer: ghost, peer: ghost.peer, refreshFp: 'not-held-anywhere', at: Date.now() });
  await viewRead.promise; // B's pass for generation 2 is under way: the link to its writer failed, it reads its view
  await journal.write({ v: 1, gen: 3, state: 'signed-out', writer: ghost, at: Date.now() });
  // Without a pass after the one under way, B stays on "cannot read the current sign-in" for good.
  let timer: NodeJS.Timeout | undefined;
  const noticed = await Promise.race([signedOut.promise.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(r, 10_000, false); })]);
  clearTimeout(timer);
  assert.ok(noticed, `B never noticed the sign-out; its events: ${seen.join(', ')}`);
  assert.equal(b.status().state, 'signed-out');
  assert.deepEqual(seen.filter((t) => t === 'signed-out'), ['signed-out']);
});
