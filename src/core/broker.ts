// The one refresh path of an account slot. Every process that needs a token for an account goes
// through a Broker for that slot; across all of them a refresh token is presented at most once.
//
// The slot directory is the store of record (sealedStore.ts): each generation is sealed there
// under K before anyone receives its access token, so no fault can strand a generation in one
// process's memory. The watched directory only wakes siblings; they read and authenticate what
// they adopt. SecretStorage holds only K (keyring.ts).
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import type { Account, Clock, Disposable, Logger, RefreshClient, SecretStore, TokenSet } from './types.ts';
import { systemClock } from './types.ts';
import { SealedStore, isActive, type ActiveGeneration, type Generation, type Writer } from './sealedStore.ts';
import { SpendClaims, processAlive } from './spendClaim.ts';
import { SharedStatus } from './sharedStatus.ts';
import { LockWaiter, releaseLock } from './lockWait.ts';
import { primeLocking } from './refreshLock.ts';
import { Keyring } from './keyring.ts';
import type { SealKey } from './seal.ts';
import type { SiblingChannel } from './siblings.ts';
import { FreshnessPolicy } from './freshness.ts';
import { transition, eventOf, statusNameOf, problemOf, type AccountInput, type AccountState, type EventName, type StatusName } from './accountState.ts';
import { RefreshProcedure, type ProtocolStep } from './refreshProcedure.ts';
import { SingleFlight } from './singleFlight.ts';
import { fingerprint } from './fingerprint.ts';
import { InvalidGrantError, TokenRelayError, TransientError, describeError, isTokenRelayError } from './errors.ts';
import { defaultBackoff, type BackoffPolicy } from './backoff.ts';
import { redactor, redactingLogger, silentLogger } from './redact.ts';
import { ProactiveTimer } from './proactiveTimer.ts';
import { TIMEOUTS } from './timeouts.ts';
import { elapsed } from './deadline.ts';
import { unwritable } from './slotDir.ts';
import { migrateLegacy } from './migration.ts';
import type { Credentials } from './credentials.ts';

export type { ProtocolStep } from './refreshProcedure.ts';

export interface BrokerHooks {
  /** Test fault injection at each protocol step (README: "What happens when things fail"). */
  at?(step: ProtocolStep): void | Promise<void>;
}

export interface BrokerOptions {
  slotDir: string;
  /** Bound into every sealed record (default: the slot directory's name). */
  slotId?: string;
  /** Where a v1 session's credentials were kept; read once to upgrade it. */
  secretKey: string;
  /** Where K is kept in SecretStorage (default `<secretKey>/seal-key`). */
  keySecret?: string;
  store: SecretStore;
  client: RefreshClient;
  /** Hands K to siblings whose secret view lacks it; without it a window waits for its view. */
  siblings?: SiblingChannel;
  clock?: Clock;
  log?: Logger;
  label?: string;
  refreshSkewMs?: number;
  lockStaleMs?: number;
  lockWaitMs?: number;
  refreshTimeoutMs?: number;
  viewCatchUpMs?: number;
  /** The IdP's refresh-token reuse grace; 0 (default) = strict. */
  reuseGraceMs?: number;
  backoff?: BackoffPolicy;
  proactive?: boolean;
  hooks?: BrokerHooks;
}

export type BrokerState = StatusName;

export interface BrokerStatus {
  state: BrokerState;
  account?: Account;
  expiresAt?: number;
  generation?: number;
  lastRefresh?: { at: number; byThisProcess: boolean; writer: Writer };
  /** The process whose refresh this one is following. */
  followingPid?: number;
  error?: string;
  errorCode?: string;
}

export interface BrokerEvent {
  type: EventName;
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
  /** The token must stay valid at least this long (default: the refresh margin). */
  minValidityMs?: number;
}

export class Broker {
  private readonly me: Writer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly events = new EventEmitter();
  private readonly store: SealedStore;
  private readonly claims: SpendClaims;
  private readonly status_: SharedStatus;
  private readonly waiter: LockWaiter;
  private readonly keyring: Keyring;
  private readonly freshness: FreshnessPolicy;
  private readonly procedure: RefreshProcedure;
  private readonly timer: ProactiveTimer;
  private readonly gets = new SingleFlight<string, AccessGrant>();
  private readonly refreshes = new SingleFlight<number, ActiveGeneration>();
  private readonly disposables: Disposable[] = [];
  private state: AccountState = { kind: 'loading' };
  /** The generation in hand: adopted from the store, or written here (maybe not yet durable). */
  private held: ActiveGeneration | undefined;
  /** The newest generation read from the store, whatever its state. */
  private seen: Generation | undefined;
  /** A refresh result the slot directory could not take yet (P5), retried until it is durable. */
  private unpersisted: ActiveGeneration | undefined;
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private repairing = false;
  private storeReadAt = 0;
  private secretWrites: Promise<void> = Promise.resolve();
  private disposed = false;

  private constructor(private readonly opts: BrokerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = redactingLogger(opts.log ?? silentLogger);
    this.me = { pid: process.pid, id: randomBytes(6).toString('hex'), label: opts.label };
    this.store = SealedStore.open(opts.slotDir, opts.slotId ?? basename(opts.slotDir));
    this.claims = new SpendClaims(this.store.dir, this.store.tempDir);
    this.status_ = new SharedStatus(this.store.dir, this.store.tempDir);
    this.waiter = new LockWaiter(this.store.lockDir, opts.lockStaleMs ?? TIMEOUTS.lockStale, this.log);
    this.keyring = new Keyring(opts.store, opts.keySecret ?? `${opts.secretKey}/seal-key`, this.store, opts.siblings,
      (write) => this.queueSecretWrite(write), this.log, opts.viewCatchUpMs ?? TIMEOUTS.keyCatchUp);
    this.freshness = new FreshnessPolicy(opts.refreshSkewMs ?? 60_000);
    this.timer = new ProactiveTimer(this.clock, () => this.proactiveRefresh());
    this.procedure = new RefreshProcedure({
      me: this.me, store: this.store, claims: this.claims, status: this.status_, waiter: this.waiter,
      client: opts.client, clock: this.clock, log: this.log, freshness: this.freshness,
      settings: {
        lockWaitMs: opts.lockWaitMs ?? TIMEOUTS.lockWait,
        softTimeoutMs: opts.refreshTimeoutMs ?? TIMEOUTS.refreshSoft,
        hardTimeoutMs: TIMEOUTS.refreshHard,
        reuseGraceMs: opts.reuseGraceMs ?? 0,
        backoff: opts.backoff ?? defaultBackoff,
      },
      step: async (step) => { await opts.hooks?.at?.(step); },
      sync: () => this.sync(),
      requireHeld: () => this.requireHeld(),
      apply: (input, by) => this.apply(input, by),
      save: (next) => this.save(next),
      refuse: (after, reason) => this.refuse(after, reason),
      retryIn: (ms) => this.timer.retryIn(ms),
      unwritable: (problem) => this.degraded(problem),
    });
  }

  static async create(opts: BrokerOptions): Promise<Broker> {
    const broker = new Broker(opts);
    await broker.start();
    return broker;
  }

  private async start(): Promise<void> {
    await primeLocking(this.store.tempDir);
    await this.opts.siblings?.listen(this.store.peersDir, (id) => this.keyring.held(id));
    this.disposables.push(this.store.watch((event, gen) => {
      this.waiter.notify();
      if (event === 'generation' && gen !== undefined && gen <= (this.held?.gen ?? 0) && this.state.kind === 'active') return; // written here, or pruned
      if (event === 'claim') return this.noticeClaim();
      if (event === 'status') return;
      void this.syncQuietly();
    }));
    this.disposables.push(this.opts.store.onDidChange(() => {
      // A stale whole-view write may have removed K from this window's view: put it back.
      void this.keyring.repairView();
      if (this.state.kind === 'unreadable') void this.syncQuietly();
    }));
    await this.syncQuietly();
    void this.opts.client.prepare?.().catch((err) => this.log.debug(`Identity provider not reachable yet: ${describeError(err)}`));
  }

  // ---- public API -------------------------------------------------------------------------

  /** Callers asking the same while an answer is being worked out share that answer. */
  async getToken(options: GetTokenOptions = {}): Promise<AccessGrant> {
    const key = `${options.minValidityMs ?? ''}\n${options.rejectedAccessToken ?? ''}`;
    return { ...(await this.gets.run(key, () => this.obtain(options))) };
  }

  /** Persists a brand-new grant from sign-in as the next generation of this slot. */
  async signIn(tokens: TokenSet, account: Account): Promise<void> {
    redactor.remember(tokens.accessToken, tokens.refreshToken, tokens.idToken);
    await this.withLock(async () => {
      await this.sync();
      const key = await this.keyForWriting();
      for (;;) {
        const next: ActiveGeneration = { gen: this.store.latestGen() + 1, state: 'active', account, tokens, writer: this.me, at: this.clock.now() };
        if (this.writeGeneration(next, key)) {
          this.adopt(next, 'signed in here');
          return;
        }
      }
    });
  }

  /** Revokes at the IdP (best effort), then signs out every process sharing this slot. */
  async signOut(): Promise<void> {
    await this.withLock(async () => {
      await this.sync().catch(() => undefined);
      const held = this.held;
      const key = await this.keyForWriting();
      for (;;) {
        const gen = this.store.latestGen() + 1;
        if (this.writeGeneration({ gen, state: 'signed-out', account: held?.account, writer: this.me, at: this.clock.now() }, key)) break;
      }
      this.held = undefined;
      this.unpersisted = undefined;
      this.timer.cancel();
      this.apply({ type: 'signed-out' }, true);
      await this.queueSecretWrite(() => this.opts.store.delete(this.opts.secretKey)).catch(() => undefined); // a v1 copy, if any
      if (held?.tokens.refreshToken) {
        await this.opts.client.revoke(held.tokens.refreshToken, 'refresh_token', AbortSignal.timeout(TIMEOUTS.revoke))
          .catch((err) => this.log.warn(`Revoking the refresh token failed (${describeError(err)}); it is deleted locally`));
      }
    });
  }

  status(): BrokerStatus {
    const g = this.held;
    const seen = this.seen;
    const last = g ?? (isActive(seen) ? seen : undefined);
    const problem = problemOf(this.state);
    return {
      state: statusNameOf(this.state),
      account: g?.account ?? seen?.account,
      expiresAt: g?.tokens.expiresAt,
      generation: g?.gen ?? seen?.gen,
      lastRefresh: last ? { at: last.at, byThisProcess: last.writer.id === this.me.id, writer: last.writer } : undefined,
      followingPid: this.state.kind === 'active' && this.state.activity.kind === 'following' ? this.state.activity.pid : undefined,
      error: problem?.message,
      errorCode: problem?.code,
    };
  }

  /** Credentials as this process holds them now, without any I/O (for listing sessions). */
  peek(): Credentials | undefined {
    const g = this.held;
    return g && this.state.kind === 'active' ? { v: 1, gen: g.gen, account: g.account, tokens: g.tokens } : undefined;
  }

  onEvent(listener: (event: BrokerEvent) => void): Disposable {
    this.events.on('event', listener);
    return { dispose: () => this.events.off('event', listener) };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.timer.cancel();
    for (const d of this.disposables) d.dispose();
    if (this.unpersisted) this.persistPending(); // a last try: once this process is gone, so is that generation
    await Promise.race([this.secretWrites, elapsed(TIMEOUTS.disposeStoreWait)]).catch(() => undefined);
    await this.opts.siblings?.close().catch(() => undefined);
  }

  // ---- obtaining a token ------------------------------------------------------------------

  private async obtain(options: GetTokenOptions): Promise<AccessGrant> {
    await this.syncIfBehind();
    let g = this.requireHeld();
    for (let round = 0; round < 4; round++) {
      const now = this.clock.now();
      const rejected = options.rejectedAccessToken !== undefined && fingerprint(options.rejectedAccessToken) === fingerprint(g.tokens.accessToken);
      if (!rejected && this.freshness.isFresh(g.tokens, now, options.minValidityMs)) return grantOf(g);
      // Someone is refreshing it already: a token the server still accepts is handed out meanwhile (P4).
      if (!rejected && options.minValidityMs === undefined && this.freshness.isUsable(g.tokens, now) && this.refreshUnderWay(g.gen)) return grantOf(g);
      const startGen = g.gen;
      try {
        g = await this.refreshes.run(g.gen, () => this.refresh(g, rejected, options.minValidityMs));
      } catch (err) {
        // The session survives trouble that is not permanent: a token the clock still trusts is handed out.
        const held = this.held;
        if (!rejected && held && this.freshness.isUsable(held.tokens, this.clock.now()) && isTokenRelayError(err)
          && ['offline', 'timeout', 'refresh-stuck', 'degraded', 'lock-dir'].includes(err.code)) return grantOf(held);
        throw err;
      }
      // A new generation is handed out unless it expired on the way (its refresher was frozen).
      if (g.gen > startGen && this.freshness.isUsable(g.tokens, this.clock.now())) return grantOf(g);
    }
    if (this.freshness.isUsable(g.tokens, this.clock.now())) return grantOf(g);
    throw new TokenRelayError('timeout', 'Token Relay could not obtain a fresh access token.', 'Try again; see the Token Relay log for details.');
  }

  /** Runs the refresh procedure, following a live spender's claim up to the lock-wait bound (P4). */
  private async refresh(g: ActiveGeneration, rejected: boolean, minValidityMs?: number): Promise<ActiveGeneration> {
    const deadline = performance.now() + (this.opts.lockWaitMs ?? TIMEOUTS.lockWait);
    for (;;) {
      if ((this.held?.gen ?? 0) > g.gen) return this.requireHeld();
      const live = this.claims.inspect(g.gen, this.me);
      const outcome = live?.kind === 'live' ? { follow: live.claim } : await this.procedure.run(g, rejected, minValidityMs, deadline);
      if ('generation' in outcome) return outcome.generation;
      const { pid } = outcome.follow.owner;
      this.log.info(`Generation ${g.gen} is being refreshed by pid ${pid}; waiting for its result`);
      this.apply({ type: 'following', pid }, false);
      let settled: Awaited<ReturnType<Broker['follow']>>;
      try {
        settled = await this.follow(g.gen, deadline);
      } catch (err) {
        // Its spender reported the IdP as not answering: so is this window.
        if (err instanceof TransientError) this.apply({ type: 'offline', problem: { code: 'offline', message: err.message } }, false);
        else this.apply({ type: 'idle' }, false);
        throw err;
      }
      if (settled === 'advanced') return this.requireHeld();
      if (settled === 'timeout') {
        throw new TokenRelayError('refresh-stuck', `A refresh is in progress in pid ${pid}, which is not responding.`,
          'It may be suspended (a debugger, Ctrl+Z, a sleeping laptop); Token Relay recovers when it resumes or exits. Try again in a moment.');
      }
      // Its claimer died or gave the claim back: decide again, under the lock.
      this.apply({ type: 'idle' }, false);
    }
  }

  /** Waits for generation `gen` to be superseded, or for its live claim to end, or the deadline. */
  private async follow(gen: number, deadline: number): Promise<'advanced' | 'claim-ended' | 'timeout'> {
    while (performance.now() < deadline) {
      const since = this.waiter.mark();
      await this.syncIfBehind();
      if ((this.held?.gen ?? 0) > gen || this.state.kind !== 'active') return 'advanced';
      if (this.claims.inspect(gen, this.me)?.kind !== 'live') return 'claim-ended';
      // Its spender found the identity provider not answering: say so now rather than block.
      const backoff = this.status_.read(gen);
      const waitingOnIdp = backoff.awaitingAnswer && backoff.gen === gen && backoff.by && processAlive(backoff.by.pid);
      if (waitingOnIdp || (backoff.offlineUntil && backoff.offlineUntil > this.clock.now())) {
        throw new TransientError(backoff.lastError ?? 'the identity provider is not answering', true);
      }
      // Store events wake this at once; a dead claimer makes none, so liveness is checked on a tick.
      await this.waiter.nextEvent(Math.min(TIMEOUTS.staleCheck, Math.max(0, deadline - performance.now())), since);
    }
    return 'timeout';
  }

  private refreshUnderWay(gen: number): boolean {
    if (this.procedure.isOutstanding(gen)) return true;
    return this.claims.inspect(gen, this.me)?.kind === 'live';
  }

  private async proactiveRefresh(): Promise<void> {
    const g = this.held;
    if (this.disposed || !g) return;
    try {
      // Fired before the token counts as stale (margin + jitter): ask for more validity than it has
      // left, so this generation is refreshed; a newer one from another process already has it.
      await this.getToken({ minValidityMs: Math.max(0, g.tokens.expiresAt - this.clock.now()) + 1 });
    } catch (err) {
      this.log.debug(`Proactive refresh did not complete: ${describeError(err)}`);
      const status = this.status_.read(g.gen);
      if (this.held) this.timer.retryIn(Math.max(1000, (status.offlineUntil ?? 0) - this.clock.now()));
    }
  }

  // ---- saving -------------------------------------------------------------------------------

  /**
   * Saves a refresh result as the next generation: durable before any caller gets its token.
   * When the slot directory cannot take it (full, read-only, I/O error), the generation is kept in
   * memory and served, its claim stays (this process is alive, so nobody presents the old token),
   * and writing is retried with back-off: degraded until it lands (P5).
   */
  private async save(next: ActiveGeneration): Promise<boolean> {
    redactor.remember(next.tokens.accessToken, next.tokens.refreshToken, next.tokens.idToken);
    const key = this.keyOf();
    try {
      if (!this.writeGeneration(next, key)) return false;
    } catch (err) {
      this.unpersisted = next;
      const problem = unwritable(this.store.dir, 'slot directory', (err as NodeJS.ErrnoException).code ?? describeError(err));
      this.log.error(`${problem.message} Generation ${next.gen} is kept in memory and written as soon as the directory accepts it.`);
      this.adopt(next, 'kept in memory: not yet durable');
      this.degraded(problem);
      return true;
    }
    await this.opts.hooks?.at?.('durable');
    this.adopt(next, 'refreshed here');
    return true;
  }

  /** Degraded until the slot directory takes writes again; what is pending is written then (P5). */
  private degraded(problem: TokenRelayError): void {
    this.apply({ type: 'degraded', problem: { code: 'degraded', message: problem.message } }, true);
    if (this.repairing) return;
    this.repairing = true;
    void (async () => {
      for (let attempt = 1; !this.disposed && this.state.kind === 'active' && this.state.degraded; attempt++) {
        await elapsed(Math.min(TIMEOUTS.persistRetryCap, TIMEOUTS.persistRetryBase * 2 ** (attempt - 1)));
        if (this.unpersisted) this.persistPending();
        else if (this.store.writable()) this.apply({ type: 'persisted' }, true);
      }
    })().finally(() => { this.repairing = false; });
  }

  /** One attempt to make the unpersisted generation durable. */
  private persistPending(): void {
    const pending = this.unpersisted;
    if (!pending) return;
    try {
      const written = this.writeGeneration(pending, this.keyOf());
      this.unpersisted = undefined;
      if (!written) {
        this.log.warn(`Generation ${pending.gen} was written by someone else meanwhile; discarding this process's copy`);
        void this.syncQuietly();
        return;
      }
      this.log.info(`Generation ${pending.gen} is now durable in the slot directory`);
      this.apply({ type: 'persisted' }, true);
    } catch (err) {
      this.log.debug(`Slot directory still not writable: ${describeError(err)}`);
    }
  }

  private writeGeneration(g: Generation, key: SealKey): boolean {
    const written = this.store.write(g, key);
    if (written) this.seen = g;
    return written;
  }

  /** A needs-sign-in generation after `after`: permanent until the user signs in again. */
  private async refuse(after: ActiveGeneration, error: TokenRelayError): Promise<TokenRelayError> {
    const reason = error.message;
    const refused: Generation = { gen: after.gen + 1, state: 'needs-sign-in', account: after.account, reason, writer: this.me, at: this.clock.now() };
    try {
      if (!this.writeGeneration(refused, this.keyOf())) {
        await this.sync(); // someone else concluded first (or signed in): theirs stands
        return this.stateError() ?? error;
      }
    } catch (err) {
      this.log.warn(`Could not record that the sign-in ended: ${describeError(err)}`);
    }
    this.log.warn(`Sign-in ended: ${reason}`);
    this.held = undefined;
    this.timer.cancel();
    this.apply({ type: 'refused', reason }, true);
    return error;
  }

  // ---- adopting what the store says ----------------------------------------------------------

  private async syncIfBehind(): Promise<void> {
    if (this.state.kind !== 'active' || this.unpersisted) return this.sync();
    // The watch wakes this process on every new generation; a timed re-read covers a lost event.
    if (performance.now() - this.storeReadAt < TIMEOUTS.storeRecheck && this.store.latestGen() <= (this.held?.gen ?? 0)) return;
    return this.sync();
  }

  private async syncQuietly(): Promise<void> {
    await this.sync().catch((err) => this.log.warn(`Could not read the shared session state: ${describeError(err)}`));
  }

  /** Brings this process in line with the store; one pass at a time, and one more if asked meanwhile. */
  private sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true; // the pass under way may have read the store before this change
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncOnce();
        } while (this.syncAgain);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    this.storeReadAt = performance.now();
    if (this.unpersisted) this.persistPending();
    let latest: number;
    try {
      latest = this.store.latestGen();
    } catch (err) {
      return this.apply({ type: 'unreadable', problem: { code: 'lock-dir', message: describeError(err) } }, false);
    }
    if (latest === 0) return this.loadLegacy();
    if (this.unpersisted && this.unpersisted.gen > latest) return; // ours is newer; it lands when the disk lets it
    if (this.state.kind === 'active' && latest === this.held?.gen) return;
    const found = await this.keyring.load();
    if ('none' in found) {
      return this.apply({ type: 'unreadable', problem: { code: 'key-missing', message: `The slot directory ${this.store.dir} holds sealed records but names no seal key. Sign in again; nothing else is touched.` } }, false);
    }
    if ('missing' in found) return this.apply({ type: 'unreadable', problem: { code: found.missing.code, message: found.missing.message } }, false);
    const read = this.store.read(latest, found.key);
    if ('unreadable' in read) {
      this.log.error(`Refusing the newest record: ${read.unreadable}`);
      return this.apply({ type: 'unreadable', problem: { code: 'corrupt-record', message: `The shared sign-in cannot be trusted: ${read.unreadable}. Remove that file from ${this.store.dir} if you did not write it, or sign in again; no other account is touched.` } }, false);
    }
    const g = read.generation;
    this.seen = g;
    if (isActive(g)) return this.adopt(g, 'from the sealed store');
    this.held = undefined;
    this.unpersisted = undefined;
    this.timer.cancel();
    this.apply(g.state === 'signed-out' ? { type: 'signed-out' } : { type: 'refused', reason: g.reason ?? new InvalidGrantError('refresh token refused').message }, g.writer.id === this.me.id);
  }

  private adopt(g: ActiveGeneration, via: string): void {
    if (this.held && this.held.gen > g.gen && this.state.kind === 'active') return; // generations only move forward
    this.held = g;
    redactor.remember(g.tokens.accessToken, g.tokens.refreshToken, g.tokens.idToken);
    if (this.opts.proactive !== false && g.tokens.refreshToken) this.timer.schedule(this.freshness.refreshAt(g.tokens));
    this.log.debug(`Adopted generation ${g.gen} written by pid ${g.writer.pid} (${via})`);
    this.apply({ type: 'adopted', gen: g.gen }, g.writer.id === this.me.id);
    this.waiter.notify();
  }

  /** No sealed record yet: first run, or a session stored by the previous layout (upgraded here). */
  private async loadLegacy(): Promise<void> {
    const raw = await this.opts.store.get(this.opts.secretKey).catch(() => undefined);
    if (!raw) return this.apply({ type: 'signed-out' }, false);
    await this.withLock(async () => {
      if (this.store.latestGen() > 0) return;
      const migrated = await migrateLegacy(this.store, raw, () => this.keyForWriting(), this.me, this.clock.now(), this.log);
      if (!migrated) return this.apply({ type: 'signed-out' }, false);
      if ('problem' in migrated) return this.apply({ type: 'unreadable', problem: migrated.problem }, false);
      this.adopt(migrated.generation, 'upgraded from the previous layout');
      await this.queueSecretWrite(() => this.opts.store.delete(this.opts.secretKey)).catch(() => undefined);
    });
    if (this.store.latestGen() > 0 && this.state.kind !== 'active') await this.syncOnce();
  }

  /** A claim appeared or went: show whether another process is refreshing what this one holds. */
  private noticeClaim(): void {
    const g = this.held;
    if (!g || this.state.kind !== 'active' || this.state.activity.kind === 'refreshing') return;
    const claim = this.claims.inspect(g.gen, this.me);
    if (claim?.kind === 'live') this.apply({ type: 'following', pid: claim.claim.owner.pid }, false);
    else if (this.state.activity.kind === 'following') this.apply({ type: 'idle' }, false);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private apply(input: AccountInput, byThisProcess: boolean): void {
    const prev = this.state;
    const next = transition(prev, input);
    this.state = next;
    const type = eventOf(prev, next);
    if (type) this.events.emit('event', { type, byThisProcess, status: this.status() } satisfies BrokerEvent);
  }

  private requireHeld(): ActiveGeneration {
    if (this.held && this.state.kind === 'active') return this.held;
    throw this.stateError() ?? new TokenRelayError('not-signed-in', 'You are not signed in to Token Relay.', 'Sign in from the Accounts menu.');
  }

  private stateError(): TokenRelayError | undefined {
    const s = this.state;
    if (s.kind === 'needs-sign-in') return new TokenRelayError('needs-sign-in', s.reason);
    if (s.kind === 'unreadable') return new TokenRelayError(s.problem.code, s.problem.message);
    return undefined;
  }

  private keyOf(): SealKey {
    const found = this.keyring.current();
    if (!found) throw new TokenRelayError('key-missing', 'The seal key is not loaded.', 'Reload the window.');
    return found;
  }

  /** K for writing a generation: the slot's own, a new one when it has none, or a replacement when it is lost everywhere. */
  private async keyForWriting(): Promise<SealKey> {
    const found = await this.keyring.load();
    if ('key' in found) return found.key;
    if ('missing' in found) this.log.warn('The seal key is lost in every window; this sign-in replaces it');
    return this.keyring.create('missing' in found);
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const outcome = await this.waiter.acquire(() => false, this.opts.lockWaitMs ?? TIMEOUTS.lockWait);
    if (!('lock' in outcome)) throw new Error('unreachable');
    try {
      return await fn();
    } finally {
      await releaseLock(outcome.lock, this.log);
    }
  }

  /** Secret-store writes run one at a time, in order: an earlier one landing late never overwrites a later one. */
  private queueSecretWrite(write: () => Promise<void>): Promise<void> {
    const done = this.secretWrites.then(write);
    this.secretWrites = done.catch(() => undefined);
    return done;
  }
}

function grantOf(g: ActiveGeneration): AccessGrant {
  return { accessToken: g.tokens.accessToken, expiresAt: g.tokens.expiresAt, account: g.account, generation: g.gen, scope: g.tokens.scope };
}
