// The one refresh path of an account slot. Every process that needs a token for an account goes
// through a Broker for that slot; across all of them a refresh token is presented at most once.
//
// The slot directory is the store of record (sealedStore.ts): each generation is sealed there
// under K before anyone receives its access token, so no fault can strand a generation in one
// process's memory. The watched directory only wakes siblings; they read and authenticate what
// they adopt (slotSession.ts). SecretStorage holds only K (keyring.ts). This file composes the
// roles and answers callers: fresh tokens, following a live spender, or the refresh procedure.
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { Account, Clock, Disposable, Logger, RefreshClient, SecretStore, TokenOrigin, TokenSet } from './types.ts';
import { sameOrigin } from './tokenOrigin.ts';
import { systemClock } from './types.ts';
import { SealedStore, isActive, type ActiveGeneration, type Writer } from './sealedStore.ts';
import { SpendClaims } from './spendClaim.ts';
import { ownStartTime, processAlive } from './processIdentity.ts';
import { SharedStatus, backoffError } from './sharedStatus.ts';
import { LockWaiter, releaseLock } from './lockWait.ts';
import { primeLocking } from './refreshLock.ts';
import { probeWritable, refusedWrite } from './slotDir.ts';
import { Keyring } from './keyring.ts';
import type { KeyStore } from './keyStore.ts';
import { noSecrets, secretStoreKeys } from './secretStoreKeys.ts';
import type { SealKey } from './seal.ts';
import type { SiblingChannel } from './siblings.ts';
import { FreshnessPolicy } from './freshness.ts';
import { DISK_ERRORS, RefreshProcedure, type ProtocolStep } from './refreshProcedure.ts';
import { SlotSession, type BrokerEvent, type BrokerStatus } from './slotSession.ts';
import { Publisher } from './publishing.ts';
import { SingleFlight } from './singleFlight.ts';
import { fingerprint } from './fingerprint.ts';
import { TokenRelayError, TransientError, describeError, freshTokenRejected, isTokenRelayError } from './errors.ts';
import { defaultBackoff, type BackoffPolicy } from './backoff.ts';
import { redactor, redactingLogger, silentLogger } from './redact.ts';
import { ProactiveTimer } from './proactiveTimer.ts';
import { TIMEOUTS } from './timeouts.ts';
import { elapsed } from './deadline.ts';
import type { Credentials } from './credentials.ts';
import { resourceProblem, tokenFor, type AudienceToken } from './audiences.ts';

export type { BrokerEvent, BrokerStatus } from './slotSession.ts';
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
  /** VS Code's SecretStorage (a v1 session is upgraded from it; it keeps K too); `noSecrets` outside VS Code. */
  store: SecretStore;
  /**
   * Where K (and the rollback mark) is kept, in order of preference (default: `store` alone). A
   * host outside VS Code passes the OS keyring or the opt-in key file; a window adds `store` last.
   */
  keyStores?: KeyStore[];
  client: RefreshClient;
  /** Hands K to siblings whose secret view lacks it; without it a window waits for its view. */
  siblings?: SiblingChannel;
  /**
   * Whether this process answers siblings' key requests (default true). The one-shot CLI host only
   * asks: it lives for one request, and registering costs a listener and two fsyncs per run.
   */
  answerSiblings?: boolean;
  /**
   * Whether start() primes the refresh lock (default true: a window's first refresh does not pay
   * for it). The one-shot CLI host primes only before its first lock, as most runs take none.
   */
  primeLockAtStart?: boolean;
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
  /**
   * A host that leaves on its own (the one-shot CLI, the agent): dispose() lets a refresh in flight
   * (a proactive one too) and an answer still outstanding arrive (bounded by the hard timeout) and saves it.
   */
  awaitLateAnswers?: boolean;
  /** false for a one-shot host: discovery only when a refresh needs it, not at every start. */
  prepareClient?: boolean;
  backoff?: BackoffPolicy;
  proactive?: boolean;
  hooks?: BrokerHooks;
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
  /** A user asked for this refresh (Refresh Now), not a server: the bound on rejection reports does not apply. */
  force?: boolean;
  /**
   * The API the token is for (RFC 8707 resource indicator, an absolute URI); absent, or the
   * client's defaultResource: the configured audience. Each audience's token is cached apart.
   */
  resource?: string;
}

export class Broker {
  private readonly me: Writer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly store: SealedStore;
  private readonly claims: SpendClaims;
  private readonly status_: SharedStatus;
  private readonly waiter: LockWaiter;
  private readonly keyring: Keyring;
  private readonly freshness: FreshnessPolicy;
  private readonly session: SlotSession;
  private readonly publisher: Publisher;
  private readonly procedure: RefreshProcedure;
  private readonly timer: ProactiveTimer;
  private readonly gets = new SingleFlight<string, AccessGrant>();
  private readonly refreshes = new SingleFlight<string, ActiveGeneration>();
  private readonly disposables: Disposable[] = [];
  private secretWrites: Promise<void> = Promise.resolve();
  private disposed = false;
  private lost: TokenRelayError | undefined;

  private constructor(private readonly opts: BrokerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = redactingLogger(opts.log ?? silentLogger);
    this.me = { pid: process.pid, id: randomBytes(6).toString('hex'), label: opts.label, startedAt: ownStartTime() };
    this.store = SealedStore.open(opts.slotDir, opts.slotId ?? basename(opts.slotDir), (message) => this.log.warn(message));
    this.claims = new SpendClaims(this.store.dir, this.store.tempDir, undefined, this.store.guard);
    this.status_ = new SharedStatus(this.store.dir, this.store.tempDir, (path) => this.store.guard.owned(path), () => this.store.guard.check());
    this.waiter = new LockWaiter(this.store.lockDir, opts.lockStaleMs ?? TIMEOUTS.lockStale, this.log, this.store.tempDir);
    const keyStores = opts.keyStores ?? [secretStoreKeys(opts.store)];
    this.keyring = new Keyring({
      stores: keyStores, name: opts.keySecret ?? `${opts.secretKey}/seal-key`, slot: this.store, siblings: opts.siblings,
      writeInOrder: (write) => this.queueSecretWrite(write), log: this.log, catchUpMs: opts.viewCatchUpMs ?? TIMEOUTS.keyCatchUp,
      onViewChange: keyStores.some((s) => s.kind === 'vscode') && opts.store !== noSecrets ? (listener) => opts.store.onDidChange(listener) : undefined,
    });
    this.freshness = new FreshnessPolicy(opts.refreshSkewMs ?? 60_000);
    this.timer = new ProactiveTimer(this.clock, () => this.proactiveRefresh());
    const now = () => this.clock.now();
    this.session = new SlotSession({
      store: this.store, claims: this.claims, keyring: this.keyring, me: this.me, log: this.log, now,
      secrets: opts.store, legacySecret: opts.secretKey,
      queueSecretWrite: (write) => this.queueSecretWrite(write),
      withLock: (fn) => this.withLock(fn),
      keyForWriting: () => this.keyForWriting(),
      held: (g) => {
        if (g && opts.proactive !== false && g.tokens.refreshToken) this.timer.schedule(this.freshness.refreshAt(g.tokens));
        else if (!g) this.timer.cancel();
      },
      notify: () => this.waiter.notify(),
      beforePass: () => this.publisher.persistPending(),
    });
    this.publisher = new Publisher({
      store: this.store, session: this.session, me: this.me, log: this.log, now,
      key: () => this.keyOf(),
      step: async (step) => { await opts.hooks?.at?.(step); },
      disposed: () => this.disposed,
    });
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
      sync: () => this.session.sync(),
      requireHeld: () => this.session.requireHeld(),
      apply: (input, by) => this.session.apply(input, by),
      save: (next) => this.publisher.save(next),
      refuse: (after, why) => this.publisher.refuse(after, why),
      newerFromSiblings: (gen) => this.newerFromSiblings(gen),
      retryIn: (ms) => this.timer.retryIn(ms),
      unwritable: (problem) => this.publisher.degraded(problem),
      mark: () => this.keyring.mark(),
      raiseMark: (gen) => this.keyring.raiseMark(gen),
    });
  }

  /** Registers for siblings' key requests; a slot directory that refuses the write (full, read-only) is returned, named. */
  private async register(): Promise<TokenRelayError | undefined> {
    if (this.opts.answerSiblings === false) return probeWritable(this.store.dir, 'slot directory');
    try {
      await this.opts.siblings?.listen(this.store.peersDir, (id) => this.keyring.held(id), (record) => this.adoptHandedOver(record), (gen) => this.heldAfter(gen));
      return undefined;
    } catch (err) {
      if (!DISK_ERRORS.has((err as NodeJS.ErrnoException)?.code ?? '')) throw err;
      const problem = refusedWrite(this.store.dir, 'slot directory', err);
      this.log.warn(`${problem.message} Other processes cannot ask this one for the seal key until it restarts on a writable disk.`);
      return problem;
    }
  }

  static async create(opts: BrokerOptions): Promise<Broker> {
    const broker = new Broker(opts);
    await broker.start();
    return broker;
  }

  /**
   * A sealed generation a sibling hands over as it exits without having been able to write it
   * (issue 17 §3b). Taken only when it authenticates under this slot's K as an active generation
   * newer than any this process holds or the store has; then served, and written when possible.
   */
  private async adoptHandedOver(record: string): Promise<boolean> {
    const key = this.keyring.current();
    let gen: unknown;
    try { gen = (JSON.parse(record) as { gen?: unknown })?.gen; } catch { return false; }
    if (this.disposed || !key || typeof gen !== 'number' || !Number.isSafeInteger(gen)) return false;
    const read = this.store.openRecord(record, gen, key);
    if (!('generation' in read) || !isActive(read.generation)) {
      this.log.warn(`A sibling handed over a record that is not an active generation of this slot (${'unreadable' in read ? read.unreadable : 'not active'}); ignored`);
      return false;
    }
    if (gen <= (this.session.held?.gen ?? 0) || gen <= this.store.latestGen()) return false;
    this.publisher.adoptHandedOver(read.generation);
    return true;
  }

  /** The sealed generation this process holds, for a sibling that has only an older one (newerFromSiblings). */
  private heldAfter(gen: number): string | undefined {
    const held = this.session.held;
    const key = this.keyring.current();
    return held && key && isActive(held) && held.gen > gen ? this.store.seal(held, key) : undefined;
  }

  /**
   * Before G's dead claimer is taken to have spent G's token for nothing: a live sibling may hold
   * G+1, handed over to it sealed by a claimer that exited on a full disk and not yet written. Taken
   * (authenticated under K, written here when possible), it is this process's generation.
   */
  private async newerFromSiblings(gen: number): Promise<ActiveGeneration | undefined> {
    const from = await this.opts.siblings?.askNewer?.(this.store.peersDir, gen, (record) => this.adoptHandedOver(record)).catch((err) => {
      this.log.debug(`Asking siblings for a generation after ${gen} failed: ${describeError(err)}`);
      return undefined;
    });
    const held = this.session.held;
    if (from === undefined || !held || held.gen <= gen) return undefined;
    this.log.info(`Generation ${held.gen} was not in the store but pid ${from} held it (handed over by a process that could not write it); taken from there`);
    return held;
  }

  /**
   * A host that leaves on its own must not take the only copy of a generation with it: when the
   * slot directory refused it, the generation is handed, sealed, to a live sibling; failing that,
   * its write is retried within TIMEOUTS.exitPersistWait; failing that, lostOnExit() says what is lost.
   */
  private async keepPending(): Promise<void> {
    const pending = this.session.unpersisted;
    if (!pending) return;
    // The core's timers never keep a host alive; this wait must, or the process would leave mid-way with status 0.
    const alive = setInterval(() => undefined, 1000);
    try {
      await this.handOverOrWrite(pending);
    } finally {
      clearInterval(alive);
    }
  }

  private async handOverOrWrite(pending: ActiveGeneration): Promise<void> {
    const taker = await this.opts.siblings?.handOver(this.store.peersDir, this.store.seal(pending, this.keyOf())).catch((err) => {
      this.log.debug(`Handing over generation ${pending.gen} failed: ${describeError(err)}`);
      return undefined;
    });
    if (taker !== undefined) {
      this.session.unpersisted = undefined;
      this.log.warn(`Generation ${pending.gen} could not be written here; handed it, sealed, to pid ${taker}, which serves it and writes it when the slot directory takes writes`);
      return;
    }
    const deadline = performance.now() + TIMEOUTS.exitPersistWait;
    for (let wait = TIMEOUTS.persistRetryBase / 5; this.session.unpersisted && performance.now() < deadline; wait *= 2) {
      await elapsed(Math.min(wait, Math.max(0, deadline - performance.now())));
      this.publisher.persistPending();
    }
    if (!this.session.unpersisted) return;
    const why = this.session.status().error ?? `the slot directory ${this.store.dir} refuses writes`;
    this.lost = new TokenRelayError('degraded',
      `Token Relay refreshed the sign-in, but could not save the new session: ${why} No Token Relay window or agent is running to take it over, so the new session exists only in this process, which is exiting; other processes will need a new sign-in.`,
      'Once the directory takes writes again, run "tokenrelay sign-in". Keeping a VS Code window or "tokenrelay agent" running lets such a session be handed over instead of lost.');
    this.log.error(this.lost.message);
  }

  /** What this host could not keep when it exited (keepPending): the session that only it held. */
  lostOnExit(): TokenRelayError | undefined {
    return this.lost;
  }

  private async start(): Promise<void> {
    const { session } = this;
    if (this.opts.primeLockAtStart !== false) await primeLocking(this.store.tempDir);
    const unregistered = await this.register();
    this.disposables.push(this.store.watch((event, gen) => {
      this.waiter.notify();
      if (event === 'generation' && gen !== undefined && gen <= (session.held?.gen ?? 0) && session.state.kind === 'active') return; // written here, or pruned
      if (event === 'claim') return session.noticeClaim();
      if (event === 'status') return;
      void session.syncQuietly();
    }, (err) => this.log.debug(`Not watching the slot directory (${describeError(err)}); changes are picked up by the timed re-read`)));
    this.disposables.push(this.opts.store.onDidChange(() => {
      // A stale whole-view write may have removed K from this window's view: put it back.
      void this.keyring.repairView();
      if (session.state.kind === 'unreadable') void session.syncQuietly();
    }));
    await session.syncQuietly();
    // Reading a stored generation needs no write: a full or read-only disk leaves this process serving, degraded.
    if (unregistered && session.state.kind === 'active') this.publisher.degraded(unregistered);
    if (this.opts.prepareClient !== false) void this.opts.client.prepare?.().catch((err) => this.log.debug(`Identity provider not reachable yet: ${describeError(err)}`));
  }

  // ---- public API -------------------------------------------------------------------------

  /** Callers asking the same while an answer is being worked out share that answer. */
  async getToken(options: GetTokenOptions = {}): Promise<AccessGrant> {
    const resource = this.audienceOf(options.resource);
    const key = `${options.minValidityMs ?? ''}\n${options.rejectedAccessToken ?? ''}\n${options.force ? 'force' : ''}\n${resource ?? ''}`;
    return { ...(await this.gets.run(key, () => this.obtain({ ...options, resource }))) };
  }

  /** The audience key of a request: undefined for the configured audience (asked for by name or not). */
  private audienceOf(resource: string | undefined): string | undefined {
    if (resource === undefined || resource === this.opts.client.defaultResource) return undefined;
    const problem = resourceProblem(resource);
    if (problem) throw new TokenRelayError('config', `The resource "${resource.slice(0, 200)}" ${problem}.`, 'Pass the API\'s resource indicator, e.g. https://api.example.com.');
    return resource;
  }

  /**
   * Persists a brand-new grant from sign-in as the next generation of this slot. `origin`: where
   * the grant came from, the only place its refresh token will be presented (tokenOrigin.ts); a
   * grant without one takes the configuration's at its first refresh, as an earlier version's does.
   */
  async signIn(tokens: TokenSet, account: Account, origin?: TokenOrigin): Promise<void> {
    redactor.remember(tokens.accessToken, tokens.refreshToken, tokens.idToken);
    await this.withLock(async () => {
      await this.session.sync();
      const key = await this.keyForWriting();
      // Above the mark too: in a restored store, a new grant must not look like an old copy.
      const mark = await this.keyring.mark();
      for (;;) {
        const next: ActiveGeneration = { gen: Math.max(this.store.latestGen(), mark) + 1, state: 'active', account, tokens, writer: this.me, at: this.clock.now(), ...(origin ? { origin } : {}) };
        if (this.publisher.write(next, key)) {
          await this.keyring.raiseMark(next.gen);
          return this.session.adopt(next, 'signed in here');
        }
      }
    });
  }

  /**
   * Moves this slot's session into `dir`, the same slot in a new store root, exactly once and without
   * sign-in. Under this slot's lock the current generation's spend claim is taken first, so no
   * process on this directory (an older version's window included) can present its refresh token;
   * the generation is then written into `dir` under the same K and key-id, and a needs-sign-in
   * record here tells older processes why (`reason`). `busy`: someone is refreshing; try later.
   */
  async moveTo(dir: string, reason: string): Promise<'moved' | 'nothing' | 'busy'> {
    return this.withLock(async () => {
      const latest = this.store.latestGen();
      const found = latest > 0 ? await this.keyring.load() : undefined;
      if (!found || !('key' in found)) return 'nothing';
      const read = this.store.read(latest, found.key);
      if (!('generation' in read) || read.generation.state !== 'active') return 'nothing';
      const current = read.generation as ActiveGeneration;
      const claimed = this.claims.claim(current.gen, this.me, this.clock.now());
      if (claimed.kind !== 'claimed') return 'busy';
      // The token leaves this directory: marked as presented, so nobody here presents it after a crash.
      this.claims.markSent(claimed.claim);
      const target = SealedStore.open(dir, this.store.slotId);
      if (!target.createKeyId(found.key.id)) throw new TokenRelayError('lock-dir', `${dir} already holds a different session for this account.`);
      const moved: ActiveGeneration = { ...current, gen: Math.max(target.latestGen(), current.gen) + 1, writer: this.me, at: this.clock.now() };
      while (!target.write(moved, found.key)) moved.gen++;
      this.publisher.write({ gen: current.gen + 1, state: 'needs-sign-in', account: current.account, reason, writer: this.me, at: this.clock.now() }, found.key);
      this.log.info(`Moved generation ${current.gen} to ${dir} as generation ${moved.gen}`);
      return 'moved';
    });
  }

  /**
   * Signs out every process sharing this slot, then revokes at the IdP. A failed revocation does not
   * undo the sign-out; it is returned (`revocationFailed`: the server's answer) for the user to hear.
   */
  async signOut(): Promise<{ revocationFailed?: string }> {
    return this.withLock(async () => {
      await this.session.sync().catch(() => undefined);
      const held = this.session.held;
      const key = await this.keyForWriting();
      for (;;) {
        const gen = this.store.latestGen() + 1;
        if (this.publisher.write({ gen, state: 'signed-out', account: held?.account, writer: this.me, at: this.clock.now() }, key)) break;
      }
      this.session.release({ type: 'signed-out' }, true);
      await this.queueSecretWrite(() => this.opts.store.delete(this.opts.secretKey)).catch(() => undefined); // a v1 copy, if any
      if (!held?.tokens.refreshToken) return {};
      const elsewhere = await this.configuredElsewhere(held);
      if (elsewhere) {
        this.log.info(`Not revoking the refresh token: ${elsewhere}`);
        return { revocationFailed: `The refresh token was not sent for revocation: ${elsewhere}.` };
      }
      return this.opts.client.revoke(held.tokens.refreshToken, 'refresh_token', AbortSignal.timeout(TIMEOUTS.revoke)).then(() => ({}), (err) => {
        // Info, not a warning: the caller tells the user (a notification, the CLI's stderr) once.
        this.log.info(`Revoking the refresh token failed (${describeError(err)}); it is deleted locally`);
        return { revocationFailed: describeError(err) };
      });
    });
  }

  /** Revocation presents the refresh token too: only to the server it came from (tokenOrigin.ts). */
  private async configuredElsewhere(g: ActiveGeneration): Promise<string | undefined> {
    if (!g.origin) return undefined;
    const configured = await this.opts.client.origin().catch(() => undefined);
    if (!configured || sameOrigin(g.origin, configured)) return undefined; // unreachable: revoke() says so
    return `it was issued by ${g.origin.tokenEndpoint} to client ${g.origin.clientId}, and the configuration now names ${configured.tokenEndpoint}, client ${configured.clientId}`;
  }

  status(): BrokerStatus {
    return this.session.status();
  }

  /**
   * The user fixed what a refusal named (a setting, the client secret): the back-off it started is
   * lifted, so the next call asks the identity provider again at once. A transient back-off stays.
   */
  liftRefusal(): void {
    try {
      if (this.status_.read().refusal) this.status_.write({});
    } catch (err) {
      this.log.debug(`Could not lift the back-off: ${describeError(err)}`);
    }
  }

  /** Credentials as this process holds them now, without any I/O (for listing sessions). */
  peek(): Credentials | undefined {
    return this.session.peek();
  }

  onEvent(listener: (event: BrokerEvent) => void): Disposable {
    return this.session.onEvent(listener);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.timer.cancel();
    // This process is the only one that will ever see an answer it still awaits: wait for it.
    if (this.opts.awaitLateAnswers) {
      await this.refreshes.settled();
      await this.procedure.settled();
    }
    for (const d of this.disposables) d.dispose();
    this.publisher.persistPending(); // a last try: once this process is gone, so is that generation
    if (this.opts.awaitLateAnswers) await this.keepPending().catch((err) => this.log.error(`Could not keep generation ${this.session.unpersisted?.gen}: ${describeError(err)}`));
    await Promise.race([this.secretWrites, elapsed(TIMEOUTS.disposeStoreWait)]).catch(() => undefined);
    await this.opts.siblings?.close().catch(() => undefined);
  }

  // ---- obtaining a token ------------------------------------------------------------------

  private async obtain(options: GetTokenOptions): Promise<AccessGrant> {
    const { session } = this;
    const { resource } = options;
    await session.syncIfBehind();
    let g = session.requireHeld();
    // Each audience may find the generation moved on for another one first: a few more rounds.
    const rounds = resource === undefined ? 4 : 8;
    for (let round = 0; round < rounds; round++) {
      const now = this.clock.now();
      const t = tokenFor(g, resource);
      const rejected = t !== undefined && options.rejectedAccessToken !== undefined && fingerprint(options.rejectedAccessToken) === fingerprint(t.accessToken);
      if (!rejected && this.fresh(t, now, options.minValidityMs)) return grantOf(g, resource);
      if (rejected && !options.force) this.boundRejection(g, now, options.minValidityMs, resource);
      // Someone is refreshing it already: a token the server still accepts is handed out meanwhile (P4).
      if (!rejected && options.minValidityMs === undefined && this.usable(t, now) && this.refreshUnderWay(g.gen)) return grantOf(g, resource);
      const startGen = g.gen;
      try {
        const from = g;
        g = await this.refreshes.run(`${g.gen}\n${resource ?? ''}`, () => this.refresh(from, rejected, options.minValidityMs, resource));
      } catch (err) {
        // The session survives trouble that is not permanent: a token the clock still trusts is handed out.
        const held = session.held;
        if (!rejected && held && this.usable(tokenFor(held, resource), this.clock.now()) && isTokenRelayError(err)
          && ['offline', 'timeout', 'refresh-stuck', 'degraded', 'lock-dir'].includes(err.code)) return grantOf(held, resource);
        throw err;
      }
      // A new generation is handed out unless it expired on the way (its refresher was frozen), or
      // was refreshed for another audience and lacks this one (then this one is refreshed on it).
      if (g.gen > startGen) {
        const mine = tokenFor(g, resource);
        const stillRejected = rejected && mine?.accessToken === t?.accessToken;
        // Refreshed for this audience: usable is enough. Carried from an earlier generation: it must be fresh.
        const refreshedForIt = g.refreshedFor === resource;
        const now = this.clock.now();
        if (!stillRejected && (refreshedForIt ? this.usable(mine, now) : this.fresh(mine, now, options.minValidityMs))) return grantOf(g, resource);
      }
    }
    if (this.usable(tokenFor(g, resource), this.clock.now())) return grantOf(g, resource);
    throw new TokenRelayError('timeout', 'Token Relay could not obtain a fresh access token.', 'Try again; see the Token Relay log for details.');
  }

  private fresh(t: AudienceToken | undefined, now: number, minValidityMs?: number): boolean {
    return t !== undefined && this.freshness.isFresh(t, now, minValidityMs);
  }

  private usable(t: AudienceToken | undefined, now: number): boolean {
    return t !== undefined && this.freshness.isUsable(t, now);
  }

  /** Runs the refresh procedure, following a live spender's claim up to the lock-wait bound (P4). */
  private async refresh(g: ActiveGeneration, rejected: boolean, minValidityMs?: number, resource?: string): Promise<ActiveGeneration> {
    const { session } = this;
    const deadline = performance.now() + (this.opts.lockWaitMs ?? TIMEOUTS.lockWait);
    for (;;) {
      if ((session.held?.gen ?? 0) > g.gen) return session.requireHeld();
      const live = this.claims.inspect(g.gen, this.me);
      const outcome = live?.kind === 'live' ? { follow: live.claim } : await this.procedure.run(g, rejected, minValidityMs, deadline, resource);
      if ('generation' in outcome) return outcome.generation;
      const { pid } = outcome.follow.owner;
      this.log.info(`Generation ${g.gen} is being refreshed by pid ${pid}; waiting for its result`);
      session.apply({ type: 'following', pid }, false);
      let settled: Awaited<ReturnType<Broker['follow']>>;
      try {
        settled = await this.follow(outcome.follow.gen, deadline); // may be a newer generation than g (another audience's)
      } catch (err) {
        // Its spender reported the IdP as not answering: so is this window.
        if (err instanceof TransientError) session.apply({ type: 'offline', problem: { code: 'offline', message: err.message } }, false);
        else session.apply({ type: 'idle' }, false);
        throw err;
      }
      if (settled === 'advanced') return session.requireHeld();
      if (settled === 'timeout') {
        throw new TokenRelayError('refresh-stuck', `A refresh is in progress in pid ${pid}, which is not responding.`,
          'It may be suspended (a debugger, Ctrl+Z, a sleeping laptop); Token Relay recovers when it resumes or exits. Try again in a moment.');
      }
      // Its claimer died or gave the claim back: decide again, under the lock.
      session.apply({ type: 'idle' }, false);
    }
  }

  /** Waits for generation `gen` to be superseded, or for its live claim to end, or the deadline. */
  private async follow(gen: number, deadline: number): Promise<'advanced' | 'claim-ended' | 'timeout'> {
    const { session } = this;
    while (performance.now() < deadline) {
      const since = this.waiter.mark();
      await session.syncIfBehind();
      if ((session.held?.gen ?? 0) > gen || session.state.kind !== 'active') return 'advanced';
      if (this.claims.inspect(gen, this.me)?.kind !== 'live') return 'claim-ended';
      // Its spender found the identity provider not answering: say so now rather than block.
      const backoff = this.status_.read(gen);
      const waitingOnIdp = backoff.awaitingAnswer && backoff.gen === gen && backoff.by && processAlive(backoff.by.pid, backoff.by.startedAt);
      if (waitingOnIdp || (backoff.offlineUntil && backoff.offlineUntil > this.clock.now())) {
        throw backoffError(backoff, 'the identity provider is not answering');
      }
      // Store events wake this at once; a dead claimer makes none, so liveness is checked on a tick.
      await this.waiter.nextEvent(Math.min(TIMEOUTS.staleCheck, Math.max(0, deadline - performance.now())), since);
    }
    return 'timeout';
  }

  /**
   * A report about a generation that was itself obtained for a rejection moments ago, and that the
   * clock still calls fresh, means the server rejects every fresh token: one more refresh per call
   * would only load the IdP. The generation's origin and time are in its sealed record, so every
   * process (whichever refreshed) decides the same; nothing is presented, so no lock is needed.
   */
  private boundRejection(g: ActiveGeneration, now: number, minValidityMs?: number, resource?: string): void {
    const age = now - g.at;
    // Per audience: only a generation refreshed for this audience's rejection bounds its reports.
    if (g.afterRejection && g.refreshedFor === resource && age >= 0 && age < TIMEOUTS.rejectedFresh && this.fresh(tokenFor(g, resource), now, minValidityMs)) {
      this.log.warn(`Generation ${g.gen} was rejected ${age} ms after it replaced a rejected token; not refreshing again`);
      throw freshTokenRejected(g.gen, age);
    }
  }

  private refreshUnderWay(gen: number): boolean {
    if (this.procedure.isOutstanding(gen)) return true;
    return this.claims.inspect(gen, this.me)?.kind === 'live';
  }

  private async proactiveRefresh(): Promise<void> {
    const g = this.session.held;
    if (this.disposed || !g) return;
    try {
      // Fired before the token counts as stale (margin + jitter): ask for more validity than it has
      // left, so this generation is refreshed; a newer one from another process already has it.
      await this.getToken({ minValidityMs: Math.max(0, g.tokens.expiresAt - this.clock.now()) + 1 });
    } catch (err) {
      this.log.debug(`Proactive refresh did not complete: ${describeError(err)}`);
      const status = this.status_.read(g.gen);
      if (this.session.held) this.timer.retryIn(Math.max(1000, (status.offlineUntil ?? 0) - this.clock.now()));
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private keyOf(): SealKey {
    const found = this.keyring.current();
    if (!found) throw new TokenRelayError('key-missing', 'The seal key is not loaded.', 'Reload the window or restart the agent, or run the command again.');
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

function grantOf(g: ActiveGeneration, resource?: string): AccessGrant {
  const t = tokenFor(g, resource)!;
  return { accessToken: t.accessToken, expiresAt: t.expiresAt, account: g.account, generation: g.gen, scope: t.scope };
}
