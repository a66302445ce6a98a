// The one refresh path. Every process that needs a token for an account goes through a Broker
// for that account's slot directory; across all of them a refresh token is presented at most once.
//
// Invariant: only the process that creates generation N's spend marker may present N's refresh
// token, and only it may write generation N+1 from that refresh. Everyone else adopts N+1.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Account, Clock, Disposable, Logger, RefreshClient, SecretStore, TokenSet } from './types.ts';
import { systemClock } from './types.ts';
import { Journal, type GenerationRecord, type SlotState, type SlotStatus, type Writer } from './journal.ts';
import { LockWaiter, releaseLock } from './lockWait.ts';
import { primeLocking, type HeldLock } from './refreshLock.ts';
import { type Credentials, parseCredentials, serializeCredentials } from './credentials.ts';
import { fingerprint } from './fingerprint.ts';
import { InvalidGrantError, TokenRelayError, TransientError, describeError, isTokenRelayError } from './errors.ts';
import { backoffDelay, defaultBackoff, type BackoffPolicy } from './backoff.ts';
import { askPeer, PeerMesh, type Announcement } from './peerChannel.ts';
import { redactor, redactingLogger, silentLogger } from './redact.ts';
import { defaultSocketDir, ensureSocketDir } from '../ipc/socketDir.ts';
import { ProactiveTimer } from './proactiveTimer.ts';

export interface BrokerHooks {
  /** Test fault injection: runs under the lock right before the spend claim and the request. */
  beforeRefresh?(): void | Promise<void>;
  /** Runs after the refresh response arrived, before anything is persisted. */
  afterResponse?(): void | Promise<void>;
}

export interface BrokerOptions {
  slotDir: string;
  secretKey: string;
  store: SecretStore;
  client: RefreshClient;
  clock?: Clock;
  log?: Logger;
  socketDir?: string;
  label?: string;
  refreshSkewMs?: number;
  lockStaleMs?: number;
  lockWaitMs?: number;
  refreshTimeoutMs?: number;
  viewCatchUpMs?: number;
  backoff?: BackoffPolicy;
  proactive?: boolean;
  hooks?: BrokerHooks;
}

export type BrokerState = 'signed-out' | 'signed-in' | 'refreshing' | 'needs-sign-in' | 'offline' | 'error';

export interface BrokerStatus {
  state: BrokerState;
  account?: Account;
  expiresAt?: number;
  generation?: number;
  lastRefresh?: { at: number; byThisProcess: boolean; writer: Writer };
  error?: string;
  errorCode?: string;
}

export interface BrokerEvent {
  type: 'signed-out' | 'signed-in' | 'refreshing' | 'refreshed' | 'needs-sign-in' | 'offline' | 'error';
  byThisProcess: boolean;
  status: BrokerStatus;
}

export interface AccessGrant {
  accessToken: string;
  expiresAt: number;
  account: Account;
  generation: number;
  scope?: string;
}

export interface GetTokenOptions {
  /** The token a server just answered 401 to: refreshed unless it was already replaced. */
  rejectedAccessToken?: string;
  /** The token must stay valid at least this long (default: the refresh skew). */
  minValidityMs?: number;
}

const RECONCILE_DELAY_MS = 500;
const DISPOSE_STORE_WAIT_MS = 3000;
const HARD_REFRESH_TIMEOUT_MS = 120_000;
const JOURNAL_RECHECK_MS = 1000;
/** How long a journal write's wake-up waits for the announcement that follows it. */
const ANNOUNCEMENT_GRACE_MS = 5;
/** How long a journaled generation's announcement is awaited from its writer before pulling. */
const ANNOUNCEMENT_WAIT_MS = 500;

/** Credentials of a generation and how they reached this process (for the log). */
interface Fetched {
  creds: Credentials;
  via: string;
  /** Not pushed over a link nor found in this process's own secret view. */
  fallback?: true;
}

const SOFT_TIMEOUT = Symbol('soft timeout');

function softTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const expired = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(SOFT_TIMEOUT), ms); });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

export class Broker {
  private readonly writer: Writer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly events = new EventEmitter();
  private readonly waiter: LockWaiter;
  private readonly inflight = new Map<number, Promise<Credentials>>();
  private readonly gets = new Map<string, Promise<AccessGrant>>();
  private readonly disposables: Disposable[] = [];
  private readonly timer: ProactiveTimer;
  private creds: Credentials | undefined;
  private slotState: SlotState | 'unknown' = 'unknown';
  private record: GenerationRecord | undefined;
  private state: BrokerState = 'signed-out';
  private lastError: TokenRelayError | undefined;
  private syncing: Promise<void> | undefined;
  private syncAgain: Promise<void> | undefined;
  private storeWrites: Promise<void> = Promise.resolve();
  private reading: Promise<GenerationRecord | undefined> | undefined;
  private readonly inFlight = new Set<number>();
  private journalDirty = true;
  private journalReadAt = 0;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private releasing: Promise<void> | undefined;
  private mesh: PeerMesh | undefined;
  private disposed = false;

  private constructor(private readonly journal: Journal, private readonly opts: BrokerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = redactingLogger(opts.log ?? silentLogger);
    this.writer = { pid: process.pid, id: randomBytes(6).toString('hex'), label: opts.label };
    this.waiter = new LockWaiter(journal, opts.lockStaleMs ?? 2000, this.log);
    this.timer = new ProactiveTimer(this.clock, () => this.proactiveRefresh());
  }

  static async create(opts: BrokerOptions): Promise<Broker> {
    const broker = new Broker(await Journal.open(opts.slotDir), opts);
    await broker.start();
    return broker;
  }

  private async start(): Promise<void> {
    await primeLocking(this.journal.tempDir);
    const socketDir = await ensureSocketDir(this.opts.socketDir ?? defaultSocketDir());
    this.mesh = await PeerMesh.open(socketDir, this.writer, {
      current: () => this.held(),
      // Asked for a generation the journal names: this process may hold it a moment before its record.
      credentials: (gen) => (this.creds?.gen === gen ? this.creds : undefined),
      announced: (a) => this.adoptAnnounced(a),
    }, this.log);
    this.writer.peer = this.mesh.socketPath;
    await this.journal.registerPeer(this.writer.id, this.mesh.socketPath);
    // Only new generations, spend claims and status reach the watch (see Journal); the lock waiter
    // wakes on generations and status.
    this.disposables.push(this.journal.watch((event, gen) => {
      switch (event) {
        case 'generation': {
          const held = () => gen !== undefined && gen <= this.heldGeneration(); // announced already, or an old one pruned
          if (held()) break;
          this.journalDirty = true;
          // Its writer announces it right after this write: a moment's grace usually makes this wake-up
          // moot, so that a storm's siblings adopt without reading the journal first.
          setTimeout(() => {
            if (this.disposed || held()) return;
            this.waiter.notify(event);
            void this.syncQuietly();
          }, ANNOUNCEMENT_GRACE_MS);
          break;
        }
        case 'status':
          this.waiter.notify(event);
          void this.onStatusChanged();
          break;
        case 'spend':
          void this.followSpender();
          break;
      }
    }));
    this.disposables.push(this.opts.store.onDidChange((key) => {
      if (key === this.opts.secretKey) void this.syncQuietly();
    }));
    // Linked before any storm: a refresh result then reaches this process as one write, with no
    // connection set-up while CPUs are busiest. Registered first, then listed, so of two brokers
    // starting together at least one links the other; a spender not linked yet is linked on demand.
    for (const peer of await this.journal.peers()) this.mesh.connect(peer);
    await this.syncQuietly();
    void this.opts.client.prepare?.().catch((err) => this.log.debug(`Identity provider not reachable yet: ${describeError(err)}`));
  }

  // ---- public API -------------------------------------------------------------------------

  /** Callers asking the same while an answer is being worked out share that answer. */
  async getToken(options: GetTokenOptions = {}): Promise<AccessGrant> {
    // Keyed in memory only; a storm's callers then cost one pass, not one each.
    const key = `${options.minValidityMs ?? ''}\n${options.rejectedAccessToken ?? ''}`;
    let answer = this.gets.get(key);
    if (!answer) {
      answer = this.obtain(options).finally(() => this.gets.delete(key));
      this.gets.set(key, answer);
    }
    return { ...(await answer) };
  }

  private async obtain(options: GetTokenOptions): Promise<AccessGrant> {
    await this.syncIfBehind();
    let creds = this.requireCredentials();
    for (let round = 0; round < 4; round++) {
      const rejected = options.rejectedAccessToken !== undefined
        && fingerprint(options.rejectedAccessToken) === fingerprint(creds.tokens.accessToken);
      if (!rejected && this.isFresh(creds, options.minValidityMs)) return grantOf(creds);
      const startGen = creds.gen;
      try {
        creds = await this.refreshGeneration(creds.gen, rejected, options.minValidityMs);
      } catch (err) {
        // The session survives transient trouble: a token the clock still trusts is handed out.
        if (isTokenRelayError(err, 'offline') && !rejected && this.remainingMs(creds) > 0) return grantOf(creds);
        throw err;
      }
      // A new generation is handed out unless it expired on the way (its refresher was frozen).
      if (creds.gen > startGen && this.remainingMs(creds) > 0) return grantOf(creds);
    }
    if (this.remainingMs(creds) > 0) return grantOf(creds);
    throw new TokenRelayError('timeout', 'Token Relay could not obtain a fresh access token.', 'Try again; see the Token Relay log for details.');
  }

  /** Persists a brand-new grant from sign-in as the next generation of this slot. */
  async signIn(tokens: TokenSet, account: Account): Promise<void> {
    redactor.remember(tokens.accessToken, tokens.refreshToken, tokens.idToken);
    await this.withLock(async () => {
      await this.sync();
      for (;;) {
        const gen = ((await this.journal.latest())?.gen ?? 0) + 1;
        const next: Credentials = { v: 1, gen, account, tokens };
        const persisted = await this.persist(next);
        if (persisted) {
          await persisted.stored; // a sign-in is complete once it is in this window's secret storage
          break;
        }
      }
      this.emit('signed-in', true);
    });
  }

  /** Revokes at the IdP (best effort), then signs out every process sharing this slot. */
  async signOut(): Promise<void> {
    await this.withLock(async () => {
      await this.sync();
      const held = this.creds;
      const gen = ((await this.journal.latest())?.gen ?? 0) + 1;
      await this.writeRecord(this.recordFor(gen, 'signed-out', held?.account));
      this.creds = undefined;
      this.setSlot('signed-out');
      await this.queueStoreWrite(() => this.opts.store.delete(this.opts.secretKey));
      if (held?.tokens.refreshToken) {
        await this.opts.client.revoke(held.tokens.refreshToken, 'refresh_token', AbortSignal.timeout(5000))
          .catch((err) => this.log.warn(`Revoking the refresh token failed (${describeError(err)}); it is deleted locally`));
      }
      this.emit('signed-out', true);
    });
  }

  status(): BrokerStatus {
    const c = this.creds;
    const r = this.record;
    return {
      state: this.state,
      account: c?.account ?? r?.account,
      expiresAt: c?.tokens.expiresAt,
      generation: c?.gen ?? r?.gen,
      lastRefresh: r ? { at: r.at, byThisProcess: r.writer.id === this.writer.id, writer: r.writer } : undefined,
      error: this.lastError?.message,
      errorCode: this.lastError?.code,
    };
  }

  /** Credentials as this process holds them now, without any I/O (for listing sessions). */
  peek(): Credentials | undefined {
    return this.creds;
  }

  onEvent(listener: (event: BrokerEvent) => void): Disposable {
    this.events.on('event', listener);
    return { dispose: () => this.events.off('event', listener) };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.timer.cancel();
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    for (const d of this.disposables) d.dispose();
    // A refresh's secret-store write may still be under way; a store that never answers must not hold up shutdown.
    await softTimeout(this.storeWrites, DISPOSE_STORE_WAIT_MS).catch(() => undefined);
    await this.journal.unregisterPeer(this.writer.id).catch(() => undefined);
    await this.mesh?.close();
  }

  // ---- refresh ---------------------------------------------------------------------------

  /** One refresh of generation `gen` per process, whatever the number of callers. */
  private refreshGeneration(gen: number, rejected: boolean, minValidityMs?: number): Promise<Credentials> {
    let flight = this.inflight.get(gen);
    if (!flight) {
      flight = this.refreshAcrossProcesses(gen, rejected, minValidityMs).finally(() => this.inflight.delete(gen));
      this.inflight.set(gen, flight);
    }
    return flight;
  }

  private async refreshAcrossProcesses(gen: number, rejected: boolean, minValidityMs?: number): Promise<Credentials> {
    const deadline = this.clock.now() + (this.opts.lockWaitMs ?? 30_000);
    // In memory first: an announcement may already have moved this process on, without any I/O.
    const advanced = () => (this.record?.gen ?? gen) !== gen;
    for (;;) {
      if (advanced()) return this.requireCredentials();
      await this.releasing;
      // A live sibling is spending this generation already: its result is awaited, not the lock.
      const spender = await this.followSpender(gen);
      if (spender) {
        this.log.info(`Generation ${gen} is being refreshed by pid ${spender.pid}; waiting for its result`);
      } else {
        const outcome = await this.waiter.acquire(async () => advanced() || (await this.syncIfBehind(), advanced()),
          Math.max(0, deadline - this.clock.now()));
        if ('advanced' in outcome) return this.requireCredentials();
        const result = await this.underLock(outcome.lock, gen, rejected, minValidityMs);
        if (result !== 'wait') return result;
      }
      // The token is being spent by a live process (possibly frozen or slow): wait for its result.
      await this.waitForGeneration(gen, deadline);
    }
  }

  private async underLock(lock: HeldLock, gen: number, rejected: boolean, minValidityMs?: number): Promise<Credentials | 'wait'> {
    try {
      await this.sync();
      const creds = this.requireCredentials();
      if (creds.gen !== gen) return creds;
      if (!rejected && this.isFresh(creds, minValidityMs)) return creds;
      const status = await this.offlineStatus(gen);
      if (status.offlineUntil && status.offlineUntil > this.clock.now()) {
        throw this.lastError instanceof TransientError ? this.lastError
          : new TransientError(status.lastError ?? 'recent failures; retrying later', false);
      }
      if (this.inFlight.has(gen)) throw new TransientError('still waiting for the identity provider to answer the previous refresh', true);
      if (!creds.tokens.refreshToken) {
        throw new TokenRelayError('needs-sign-in', 'The access token expired and the identity provider issued no refresh token.',
          'Sign in again; add offline_access to tokenrelay.scopes if your provider needs it for refresh tokens.');
      }
      await this.opts.hooks?.beforeRefresh?.();
      // The claim is the right to send: taken right before the request, so a holder frozen
      // before this point is safely overtaken, and one frozen after it is waited for.
      if (!(await this.claimSpend(gen))) return 'wait';
      return await this.spend(creds, creds.tokens.refreshToken, lock, status);
    } finally {
      // Callers get their result without waiting for the unlock; the next acquire waits for it.
      this.releasing = releaseLock(lock, this.log);
    }
  }

  /** True when this process may present generation `gen`'s refresh token. */
  private async claimSpend(gen: number): Promise<boolean> {
    const claim = await this.journal.claimSpend(gen, this.writer);
    if (claim === 'claimed' || claim.owner.id === this.writer.id) return true;
    if (isAlive(claim.owner.pid)) {
      this.log.info(`Generation ${gen} is being refreshed by pid ${claim.owner.pid}; waiting for its result`);
      return false;
    }
    // Its spender died mid-refresh; the token may be unspent. At most one process retries it, once.
    const retry = await this.journal.claimSpend(gen, this.writer, true);
    if (retry !== 'claimed') return false;
    this.log.warn(`pid ${claim.owner.pid} died while refreshing generation ${gen}; retrying that refresh once`);
    return true;
  }

  private async spend(creds: Credentials, refreshToken: string, lock: HeldLock, status: SlotStatus): Promise<Credentials> {
    const gen = creds.gen;
    this.emit('refreshing', true);
    this.log.info(`Refreshing generation ${gen} (refresh token ${fingerprint(refreshToken)})`);
    // Callers stop waiting after the soft timeout; the request itself keeps its claim until the hard
    // one, because once sent it may have rotated the token at the server: presenting it again would
    // be reuse. A late answer is still persisted.
    const request = this.opts.client.refresh(refreshToken, AbortSignal.timeout(HARD_REFRESH_TIMEOUT_MS));
    this.inFlight.add(gen);
    void request.finally(() => this.inFlight.delete(gen)).catch(() => undefined);
    let tokens: TokenSet;
    try {
      tokens = await softTimeout(request, this.opts.refreshTimeoutMs ?? 15_000);
    } catch (err) {
      if (err !== SOFT_TIMEOUT) return this.refreshFailed(creds, err);
      void request.then((late) => this.refreshed(creds, late), (late) => this.refreshFailed(creds, late)).catch(() => undefined);
      return this.offline(gen, new TransientError('timed out waiting for the identity provider; its answer will still be used', true), status);
    }
    if (lock.compromised) this.log.warn('The refresh lock was taken over while refreshing; the spend marker still makes this result the only one');
    return this.refreshed(creds, tokens);
  }

  /** Persists a refresh result as the next generation (the spend claim makes it the only one). */
  private async refreshed(creds: Credentials, tokens: TokenSet): Promise<Credentials> {
    const gen = creds.gen;
    await this.opts.hooks?.afterResponse?.();
    redactor.remember(tokens.accessToken, tokens.refreshToken, tokens.idToken);
    const next: Credentials = { v: 1, gen: gen + 1, account: creds.account, tokens: { ...tokens, refreshToken: tokens.refreshToken ?? creds.tokens.refreshToken } };
    const persisted = await this.persist(next);
    if (!persisted) {
      this.log.warn(`Generation ${gen + 1} was written by someone else (a new sign-in); discarding this refresh result`);
      await this.sync();
      return this.requireCredentials();
    }
    // Callers get the token without waiting for secret storage (an IPC round trip in VS Code). The
    // generation is journaled and announced: a sibling that adopted it writes it to its own view too.
    void persisted.stored.catch((err) => {
      this.log.warn(`Could not save generation ${gen + 1} to secret storage (${describeError(err)}); trying again shortly`);
      this.scheduleReconcile();
    });
    await this.clearOfflineStatus(); // before 'refreshed': whoever reacts to it must not read a stale offline status
    this.log.info(`Refreshed: generation ${gen + 1}, access token ${fingerprint(next.tokens.accessToken)} valid for ${Math.round((next.tokens.expiresAt - this.clock.now()) / 1000)} s`);
    this.emit('refreshed', true);
    return next;
  }

  /** The shared offline status if it concerns generation `gen`; a newer generation makes it history. */
  private async offlineStatus(gen: number): Promise<SlotStatus> {
    const status = await this.journal.readStatus();
    return status.gen === undefined || status.gen >= gen ? status : {};
  }

  private async clearOfflineStatus(): Promise<void> {
    try {
      if ((await this.journal.readStatus()).failures) await this.journal.writeStatus({});
    } catch (err) {
      this.log.debug(`Could not clear the offline status: ${describeError(err)}`);
    }
  }

  private async refreshFailed(creds: Credentials, err: unknown): Promise<never> {
    const gen = creds.gen;
    if (err instanceof InvalidGrantError) {
      // Another process may have rotated it after all: adopt before concluding anything.
      await this.sync();
      const latest = await this.journal.latest();
      if (latest && latest.gen !== gen) throw new TokenRelayError('stale-view', 'The session changed while refreshing.', 'Try again.');
      this.log.warn(`The identity provider refused refresh token ${fingerprint(creds.tokens.refreshToken ?? '')}: ${err.detail}`);
      await this.writeRecord(this.recordFor(gen + 1, 'needs-sign-in', creds.account, err.detail));
      this.creds = undefined;
      this.lastError = err;
      this.setSlot('needs-sign-in');
      this.emit('needs-sign-in', true);
      throw err;
    }
    await this.journal.releaseSpend(gen);
    const error = err instanceof TokenRelayError ? err : new TransientError(describeError(err), true);
    if (error instanceof TransientError) return this.offline(gen, error, await this.offlineStatus(gen));
    this.lastError = error;
    this.log.error(`Refresh failed: ${error.message}`);
    this.emit('error', true);
    throw error;
  }

  /** Keeps the session, backs off (shared by every window through status.json) and retries later. */
  private async offline(gen: number, error: TransientError, status: SlotStatus): Promise<never> {
    const failures = (status.failures ?? 0) + 1;
    const delay = backoffDelay(this.opts.backoff ?? defaultBackoff, failures);
    this.lastError = error;
    await this.journal.writeStatus({ gen, failures, offlineUntil: this.clock.now() + delay, lastError: error.detail, by: this.writer });
    this.log.warn(`Refresh failed (${error.message}); keeping the session, retry ${failures} in ${delay} ms`);
    this.timer.retryIn(delay);
    this.emit('offline', true);
    throw error;
  }

  private async proactiveRefresh(): Promise<void> {
    if (this.disposed || !this.creds) return;
    try {
      // The timer fires before the token counts as stale (skew + jitter): ask for more validity than
      // it has left, so this generation is refreshed; a newer one from another process already has it.
      await this.getToken({ minValidityMs: Math.max(0, this.remainingMs(this.creds)) + 1 });
    } catch (err) {
      this.log.debug(`Proactive refresh did not complete: ${describeError(err)}`);
      const status = this.creds ? await this.offlineStatus(this.creds.gen).catch(() => ({} as SlotStatus)) : {};
      if (this.creds) this.timer.retryIn(Math.max(1000, (status.offlineUntil ?? 0) - this.clock.now()));
    }
  }

  // ---- persistence and adoption -------------------------------------------------------------

  /**
   * Journals `next`, then hands it to siblings; undefined when that generation was taken meanwhile
   * (a new sign-in). Its secret-store write is queued after that, and `stored` settles once it has
   * landed: a store can be slow (VS Code's goes through the main process to the OS keychain), and
   * a refresh's callers do not wait for it.
   */
  private async persist(next: Credentials): Promise<{ stored: Promise<void> } | undefined> {
    const previous = this.creds;
    this.creds = next; // served to peers from the moment the journal announces it
    const record = this.recordFor(next.gen, 'active', next.account);
    if (!(await this.writeRecord(record))) {
      this.creds = previous;
      return undefined;
    }
    // Journaled, so every sibling may adopt it as received; each that does also holds it in memory
    // and writes it back to its own view, so it survives this process even before the store is done.
    this.mesh?.announce({ record, credentials: next });
    this.lastError = undefined;
    this.setSlot('active');
    this.timer.schedule(this.refreshAt(next));
    const stored = this.queueStoreWrite(async () => {
      if (this.creds?.gen !== next.gen) return; // moved on: a newer generation, or a sign-out, is queued behind
      const view = await this.readView().catch(() => undefined);
      if (!view || view.gen < next.gen) await this.opts.store.store(this.opts.secretKey, serializeCredentials(next));
    });
    return { stored };
  }

  /** Secret-store writes run one at a time, in order: an earlier one landing late never overwrites a later one. */
  private queueStoreWrite(write: () => Promise<void>): Promise<void> {
    const done = this.storeWrites.then(write);
    this.storeWrites = done.catch(() => undefined);
    return done;
  }

  private async writeRecord(record: GenerationRecord): Promise<boolean> {
    if (!(await this.journal.write(record))) return false;
    this.record = record;
    return true;
  }

  /** The newest generation this process knows of, held or journaled. */
  private heldGeneration(): number {
    return Math.max(this.record?.gen ?? 0, this.creds?.gen ?? 0);
  }

  /** The journaled generation this process holds, for siblings. */
  private held(): Announcement | undefined {
    const record = this.record;
    const credentials = this.creds;
    return record && credentials && record.gen === credentials.gen && record.state === 'active' ? { record, credentials } : undefined;
  }

  /** A sibling's announcement is already journaled: adopt it unless this process is further on. */
  private adoptAnnounced({ record, credentials }: Announcement): void {
    if (this.disposed) return;
    const recordGen = this.record?.gen ?? 0;
    if (record.gen < recordGen || (record.gen === recordGen && this.creds) || record.gen <= (this.creds?.gen ?? 0)) return;
    this.adopt(record, { creds: credentials, via: 'over a link' });
  }

  /** The live sibling that claimed generation `gen`'s refresh, if any; links to it to be handed the result. */
  private async followSpender(gen = this.record?.state === 'active' ? this.record.gen : undefined): Promise<Writer | undefined> {
    if (gen === undefined) return undefined;
    const marker = await this.journal.readSpend(gen).catch(() => undefined);
    if (!marker || marker.owner.id === this.writer.id || this.record?.gen !== gen || !isAlive(marker.owner.pid)) return undefined;
    if (marker.owner.peer) this.mesh?.connect({ id: marker.owner.id, socket: marker.owner.peer });
    if (this.creds?.gen === gen && this.state !== 'refreshing') this.emit('refreshing', false);
    return marker.owner;
  }

  private recordFor(gen: number, state: SlotState, account?: Account, reason?: string): GenerationRecord {
    const t = state === 'active' ? this.creds?.tokens : undefined;
    return {
      v: 1, gen, state, account, reason,
      refreshFp: t?.refreshToken ? fingerprint(t.refreshToken) : undefined,
      accessFp: t ? fingerprint(t.accessToken) : undefined,
      expiresAt: t?.expiresAt,
      writer: this.writer,
      peer: this.mesh?.socketPath,
      at: this.clock.now(),
    };
  }

  private async syncIfBehind(): Promise<void> {
    if (this.syncing) return this.syncing;
    if (this.slotState === 'unknown' || this.record === undefined || this.state === 'error') return this.sync();
    // The watcher marks the journal dirty on every new generation; a timed re-read covers a lost event.
    if (!this.journalDirty && performance.now() - this.journalReadAt < JOURNAL_RECHECK_MS) return;
    this.journalDirty = false;
    this.journalReadAt = performance.now();
    const latest = await this.latestShared();
    if (latest?.gen !== this.record.gen) await this.sync();
  }

  /** Concurrent callers share one journal read; every decision is re-checked under the lock anyway. */
  private latestShared(): Promise<GenerationRecord | undefined> {
    this.reading ??= this.journal.latest().finally(() => { this.reading = undefined; });
    return this.reading;
  }

  private async syncQuietly(): Promise<void> {
    await this.sync().catch((err) => this.log.warn(`Could not read the shared session state: ${describeError(err)}`));
  }

  /** Brings this process in line with the journal; one pass at a time. */
  private sync(): Promise<void> {
    if (this.syncing) {
      // The pass under way may have read the journal before this change: one more pass follows it.
      const again = () => { this.syncAgain = undefined; return this.sync(); };
      this.syncAgain ??= this.syncing.then(again, again);
      return this.syncAgain;
    }
    this.syncing = this.syncOnce().finally(() => { this.syncing = undefined; });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const latest = await this.journal.latest();
    if (!latest) return this.adoptUnjournaled();
    // Generations only move forward: a read from before one of our own writes is ignored.
    if (latest.gen < this.heldGeneration()) return;
    if (latest.gen === this.creds?.gen) {
      this.record = latest;
      return;
    }
    if (latest.gen === this.record?.gen && latest.state !== 'active') return;
    const previous = this.record;
    if (latest.state !== 'active') {
      this.record = latest;
      const had = this.creds !== undefined || previous?.state === 'active';
      this.creds = undefined;
      this.timer.cancel();
      this.setSlot(latest.state);
      if (latest.state === 'needs-sign-in') this.lastError = new InvalidGrantError(latest.reason ?? 'refresh token refused');
      if (had || previous === undefined) this.emit(latest.state === 'signed-out' ? 'signed-out' : 'needs-sign-in', false);
      this.scheduleReconcile();
      return;
    }
    // The record is published only once its credentials are in hand: callers key off it.
    this.lastError = undefined;
    const found = await this.fetchGeneration(latest);
    if ((this.record?.gen ?? 0) > latest.gen || (this.creds?.gen ?? 0) >= latest.gen) return; // overtaken meanwhile
    this.record = latest;
    if (!found) {
      this.creds = undefined; // its refresh token is spent: never present it again
      if (!isTokenRelayError(this.lastError, 'corrupt-secret')) this.lastError = new TokenRelayError('stale-view', 'This window cannot read the current sign-in: its secret storage is out of date and no other window holds it.',
        'Reload the window; if that does not help, sign in again.');
      this.setState('error');
      this.emit('error', false);
      return;
    }
    this.adopt(latest, found);
  }

  private adopt(record: GenerationRecord, { creds: found, via, fallback }: Fetched): void {
    const wasSignedIn = this.creds !== undefined;
    this.record = record;
    this.creds = found;
    redactor.remember(found.tokens.accessToken, found.tokens.refreshToken, found.tokens.idToken);
    this.lastError = undefined;
    this.setSlot('active');
    this.timer.schedule(this.refreshAt(found));
    // Info when a fallback was needed: pushes over links are the normal path, and tests watch for this.
    this.log[fallback ? 'info' : 'debug'](`Adopted generation ${found.gen} written by pid ${record.writer.pid} (${via})`);
    this.waiter.notify('generation');
    this.emit(wasSignedIn ? 'refreshed' : 'signed-in', record.writer.id === this.writer.id);
    this.scheduleReconcile();
  }

  /** Own secret view first, then the writer and other live peers, then a bounded wait for the view to catch up. */
  private async fetchGeneration(record: GenerationRecord): Promise<Fetched | undefined> {
    const matches = (c: Credentials | undefined): c is Credentials => c !== undefined && c.gen === record.gen
      && (!record.refreshFp || fingerprint(c.tokens.refreshToken ?? '') === record.refreshFp);
    const fromView = async () => {
      const view = await this.readView().catch((err) => { this.lastError = err; return undefined; });
      return matches(view) ? view : undefined;
    };
    // Linked to its writer (or linking now), it arrives as an announcement or with the link's opening.
    if (record.writer.id !== this.writer.id && record.peer && this.mesh) {
      this.mesh.connect({ id: record.writer.id, socket: record.peer });
      await Promise.race([this.adoptionOf(record.gen, ANNOUNCEMENT_WAIT_MS), this.mesh.unlinked(record.writer.id)]);
      if (matches(this.creds)) return { creds: this.creds, via: 'over a link' };
    }
    const viewed = await fromView();
    if (viewed) return { creds: viewed, via: 'from secret storage' };
    // Not announced (a link that could not be made): ask the writer, then any other live sibling.
    const fromWriter = record.peer && record.peer !== this.mesh?.socketPath ? await askPeer(record.peer, record.gen) : undefined;
    if (matches(fromWriter)) return { creds: fromWriter, via: 'not announced; asked its writer', fallback: true };
    for (const peer of await this.journal.peers()) {
      if (peer.id === this.writer.id || peer.socket === record.peer) continue;
      if (!isAlive(peer.pid)) {
        await this.journal.unregisterPeer(peer.id).catch(() => undefined); // died without unregistering
        continue;
      }
      const got = await askPeer(peer.socket, record.gen);
      if (matches(got)) return { creds: got, via: `not announced; asked pid ${peer.pid}`, fallback: true };
    }
    const until = this.clock.now() + (this.opts.viewCatchUpMs ?? 2000);
    while (this.clock.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 100);
        const sub = this.opts.store.onDidChange(done);
        function done() { clearTimeout(timer); sub.dispose(); resolve(); }
      });
      const late = await fromView();
      if (late) return { creds: late, via: 'not announced; from secret storage once it caught up', fallback: true };
    }
    return undefined;
  }

  /** Resolves once this process holds generation `gen` or later (adoption notifies the waiter), or after `ms`. */
  private async adoptionOf(gen: number, ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const since = this.waiter.mark();
      if ((this.creds?.gen ?? 0) >= gen || Date.now() >= until) return;
      await this.waiter.nextEvent(until - Date.now(), since);
    }
  }

  /** No journal yet: first run, or credentials from before the journal existed. */
  private async adoptUnjournaled(): Promise<void> {
    let view: Credentials | undefined;
    try {
      view = await this.readView();
    } catch (err) {
      this.lastError = err as TokenRelayError;
      this.setState('error');
      this.emit('error', false);
      return;
    }
    if (!view) {
      this.setSlot('signed-out');
      return;
    }
    await this.withLock(async () => {
      if (await this.journal.latest()) return;
      redactor.remember(view!.tokens.accessToken, view!.tokens.refreshToken);
      await (await this.persist(view!))?.stored;
      this.emit('signed-in', true);
    });
  }

  /** Later and jittered, so that a storm's adopters do not all queue for the lock at once. */
  private scheduleReconcile(): void {
    if (this.reconcileTimer || this.disposed) return;
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = undefined;
      void this.reconcileView();
    }, RECONCILE_DELAY_MS + Math.random() * RECONCILE_DELAY_MS);
    this.reconcileTimer.unref();
  }

  /** Makes this process's secret view agree with the journal (code-server writes whole stale views back). */
  private async reconcileView(): Promise<void> {
    try {
      const view = await this.readView().catch(() => undefined);
      const latest = this.record;
      if (!latest) return;
      const behind = latest.state === 'active' ? this.creds?.gen === latest.gen && (view?.gen ?? -1) < latest.gen
        : view !== undefined && view.gen < latest.gen;
      if (!behind) return;
      await this.withLock(async () => {
        const now = await this.journal.latest();
        if (now?.gen !== latest.gen) return;
        if (latest.state === 'active' && this.creds?.gen === latest.gen) {
          const creds = this.creds;
          await this.queueStoreWrite(() => this.opts.store.store(this.opts.secretKey, serializeCredentials(creds)));
        } else if (latest.state !== 'active') {
          await this.queueStoreWrite(() => this.opts.store.delete(this.opts.secretKey));
        }
      });
    } catch (err) {
      this.log.debug(`Secret view not reconciled: ${describeError(err)}`);
    }
  }

  private async readView(): Promise<Credentials | undefined> {
    const raw = await this.opts.store.get(this.opts.secretKey);
    return raw === undefined ? undefined : parseCredentials(raw);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    await this.releasing;
    const outcome = await this.waiter.acquire(async () => false, this.opts.lockWaitMs ?? 30_000);
    if (!('lock' in outcome)) throw new Error('unreachable');
    try {
      return await fn();
    } finally {
      await releaseLock(outcome.lock, this.log);
    }
  }

  private async waitForGeneration(gen: number, deadline: number): Promise<void> {
    while (this.clock.now() < deadline) {
      const since = this.waiter.mark();
      if ((this.record?.gen ?? gen) !== gen) return;
      // If its spender reported the IdP as not answering, say so now rather than block.
      const status = await this.offlineStatus(gen);
      if (status.offlineUntil) throw new TransientError(status.lastError ?? 'the identity provider is not answering', true);
      await this.waiter.nextEvent(1000, since);
      if ((this.record?.gen ?? gen) !== gen) return;
      await this.syncIfBehind();
      if ((this.record?.gen ?? gen) !== gen) return;
      const marker = await this.journal.readSpend(gen);
      if (!marker || !isAlive(marker.owner.pid)) return;
    }
    throw new TokenRelayError('timeout', 'Another process started a refresh and has not finished it.',
      'It may be suspended; Token Relay retries once it resumes or exits. Try again in a moment.');
  }

  private requireCredentials(): Credentials {
    if (this.creds) return this.creds;
    if (this.lastError && this.state !== 'signed-out') throw this.lastError;
    if (this.slotState === 'needs-sign-in') throw new InvalidGrantError(this.record?.reason ?? 'refresh token refused');
    throw new TokenRelayError('not-signed-in', 'You are not signed in to Token Relay.', 'Sign in from the Accounts menu.');
  }

  private skewFor(creds: Credentials): number {
    const lifetime = creds.tokens.expiresAt - creds.tokens.obtainedAt;
    return Math.max(0, Math.min(this.opts.refreshSkewMs ?? 60_000, lifetime / 4));
  }

  private isFresh(creds: Credentials, minValidityMs?: number): boolean {
    const lifetime = creds.tokens.expiresAt - creds.tokens.obtainedAt;
    const wanted = minValidityMs === undefined ? this.skewFor(creds) : Math.min(minValidityMs, lifetime / 2);
    return this.remainingMs(creds) > wanted;
  }

  private remainingMs(creds: Credentials): number {
    return creds.tokens.expiresAt - this.clock.now();
  }

  private refreshAt(creds: Credentials): number | undefined {
    if (this.opts.proactive === false || !creds.tokens.refreshToken) return undefined;
    const skew = this.skewFor(creds);
    return creds.tokens.expiresAt - skew - Math.random() * Math.min(5000, skew / 4);
  }

  private setSlot(state: SlotState): void {
    this.slotState = state;
    this.setState(state === 'active' ? 'signed-in' : state);
  }

  private setState(state: BrokerState): void {
    this.state = state;
  }

  private async onStatusChanged(): Promise<void> {
    if (!this.creds) return;
    const status = await this.offlineStatus(this.creds.gen);
    if (status.by?.id === this.writer.id) return;
    if (status.offlineUntil && status.offlineUntil > this.clock.now()) this.emit('offline', false);
  }

  private emit(type: BrokerEvent['type'], byThisProcess: boolean): void {
    if (type === 'refreshing') this.state = 'refreshing';
    else if (type === 'refreshed' || type === 'signed-in') this.state = 'signed-in';
    else if (type === 'offline') this.state = 'offline';
    else if (type === 'error') this.state = 'error';
    else this.state = type;
    this.events.emit('event', { type, byThisProcess, status: this.status() } satisfies BrokerEvent);
  }
}

function grantOf(c: Credentials): AccessGrant {
  return { accessToken: c.tokens.accessToken, expiresAt: c.tokens.expiresAt, account: c.account, generation: c.gen, scope: c.tokens.scope };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
