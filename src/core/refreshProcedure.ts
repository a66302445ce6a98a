// The one refresh procedure, read top to bottom: lock → find → decide → refresh → save.
//
// Decision table, under the lock, for generation G that the caller holds:
//
// | found                                             | decision                                          |
// |---------------------------------------------------|---------------------------------------------------|
// | the store holds a newer generation, with a fresh  | adopt it; nothing is presented                    |
// | token for the audience asked for (or none asked)  |                                                   |
// | a newer one without it (refreshed for another)    | decide again on the newer one                     |
// | G fresh, and no server rejected it                | return G                                          |
// | the shared back-off for G is running              | offline: keep G, retry when it ends               |
// | G has no refresh token                            | needs sign-in: there is nothing to present        |
// | G unclaimed                                       | claim spend-G (O_EXCL), present, save G+1         |
// | G claimed by a live process                       | follow it: wait for G+1 (G is served while usable)|
// | G claimed by dead processes, none of them marked  | claim the retry spend-G.n, present, save G+1      |
// | G claimed by a dead process, inside reuse grace   | claim the retry spend-G.n, present, save G+1      |
// | G claimed by a dead process otherwise             | needs sign-in: "pid N died while refreshing"      |
//
// "Marked": a claimer marks its claim (spendClaim.ts, markSent) durably before its request is
// created, so an unmarked claim of a dead process provably never reached the kernel, let alone the
// IdP: the token is unspent (P1 counts only marked claims as possibly presented).
//
// Before presenting, the configuration's token endpoint and client must be the ones G's refresh
// token came from (its recorded origin, tokenOrigin.ts); otherwise the claim is given back and the
// refresh refused (a setting): the token goes to the recorded endpoint and nowhere else.
//
// What presenting ends in:
//
// | answer                                            | outcome                                           |
// |---------------------------------------------------|---------------------------------------------------|
// | tokens                                            | save G+1 durably (in memory + degraded + retried  |
// |                                                   | while the slot directory cannot be written)       |
// | invalid_grant, or a 400/401 that is not OAuth     | needs sign-in, unless the store moved meanwhile   |
// | another refusal (invalid_client, invalid_scope, …)| claim given back; shared back-off; error (setting)|
// | the audience asked for refused (invalid_target)   | possibly spent (a server may rotate first): G+1   |
// |                                                   | keeps every access token, no refresh token; error |
// | an error answer (5xx, 429) or a refused connection| claim given back; shared back-off; offline        |
// | no answer within the soft timeout                 | offline; the claim is kept and the answer awaited |
// | lost after sending (reset, hard timeout)          | presented: treated as a dead claimer, above       |
import type { AccountInput } from './accountState.ts';
import type { BackoffPolicy } from './backoff.ts';
import { backoffDelay } from './backoff.ts';
import { InvalidGrantError, ResourceRefusedError, TokenRelayError, TransientError, describeError, signInEnded } from './errors.ts';
import { audienceToken, carryForward, tokenFor } from './audiences.ts';
import { fingerprint } from './fingerprint.ts';
import type { FreshnessPolicy } from './freshness.ts';
import { releaseLock, type LockWaiter } from './lockWait.ts';
import type { HeldLock } from './refreshLock.ts';
import type { ActiveGeneration, SealedStore, Writer } from './sealedStore.ts';
import { backoffError, type SharedStatus } from './sharedStatus.ts';
import type { Claim, SpendClaims } from './spendClaim.ts';
import type { Clock, Logger, RefreshClient, TokenOrigin, TokenSet } from './types.ts';
import { isTokenOrigin, originChanged, sameOrigin } from './tokenOrigin.ts';
import { TIMED_OUT, elapsed, within } from './deadline.ts';
import { refusedWrite } from './slotDir.ts';

/** The protocol's steps, in order; tests inject faults at each (README: "What happens when things fail"). */
export type ProtocolStep = 'locked' | 'claimed' | 'sent' | 'answered' | 'durable' | 'released';

export interface RefreshSettings {
  lockWaitMs: number;
  softTimeoutMs: number;
  hardTimeoutMs: number;
  /** The IdP's refresh-token reuse grace (tokenrelay.refreshTokenReuseGraceSeconds); 0 = strict. */
  reuseGraceMs: number;
  backoff: BackoffPolicy;
}

export interface RefreshContext {
  readonly me: Writer;
  readonly store: SealedStore;
  readonly claims: SpendClaims;
  readonly status: SharedStatus;
  readonly waiter: LockWaiter;
  readonly client: RefreshClient;
  readonly clock: Clock;
  readonly log: Logger;
  readonly freshness: FreshnessPolicy;
  readonly settings: RefreshSettings;
  step(step: ProtocolStep): Promise<void>;
  /** Brings this process in line with the store. */
  sync(): Promise<void>;
  /** The generation in hand, or the error that says why there is none. */
  requireHeld(): ActiveGeneration;
  apply(input: AccountInput, byThisProcess: boolean): void;
  /** Saves G+1 durably, or keeps it in memory and retries (degraded); false when G+1 exists already. */
  save(next: ActiveGeneration): Promise<boolean>;
  /**
   * A generation after G that a live sibling holds and the store does not (handed over by a process
   * that exited on a full disk), taken from it and written here; undefined when none has one.
   */
  newerFromSiblings(gen: number): Promise<ActiveGeneration | undefined>;
  /** Writes a needs-sign-in generation after G and returns the refusal to throw. */
  refuse(after: ActiveGeneration, why: TokenRelayError): Promise<TokenRelayError>;
  /** Retries a refresh once the shared back-off ends. */
  retryIn(ms: number): void;
  /** The slot directory refused a write: degraded until it takes writes again (P5). */
  unwritable(problem: TokenRelayError): void;
  /** The rollback guard (keyring.ts): the newest generation handed out, kept outside the slot directory. */
  mark(): Promise<number>;
  raiseMark(gen: number): Promise<void>;
}

export type Outcome = { generation: ActiveGeneration } | { follow: Claim };

/** An answer to a presented refresh token: when it was sent, and where (the next generation's origin). */
interface Presented {
  tokens: TokenSet;
  sentAt: number;
  origin: TokenOrigin;
}

/** File-system failures that mean "the slot directory cannot be written now" (P5). */
export const DISK_ERRORS = new Set(['ENOSPC', 'EROFS', 'EIO', 'EDQUOT', 'EACCES', 'EPERM']);

/** Safety margin inside the IdP's reuse grace: a retry is sent only while well inside it. */
export function graceMarginMs(graceMs: number): number {
  return Math.max(1000, graceMs / 5);
}

/** The slot directory holds generations older than ones already handed out: restored from a backup or a sync tool. */
export function restoredStore(dir: string, gen: number, mark: number): TokenRelayError {
  return signInEnded(`the store ${dir} is an older copy (its newest generation is ${gen}, but generation ${mark} was already handed out), as a backup restore or a sync tool leaves it; its refresh token was spent, and presenting it again would make the identity provider revoke the sign-in`);
}

/**
 * A token presented again under a retry claim may be answered with the reuse grace's replay of its
 * first use: that answer was dated when the token was first presented (`firstAt`), so its lifetime
 * counts from then, on this machine's clock (the client dates its answer a moment after `sentAt`:
 * the lifetime, not the client's date, is what is kept). Never later than the answer's own expiry;
 * a fresh answer only loses a little lifetime.
 */
export function replayDated(tokens: TokenSet, claim: Claim, sentAt: number, firstAt: number): TokenSet {
  if (claim.seq === 0 || sentAt <= firstAt) return tokens;
  const expiresAt = Math.min(tokens.expiresAt, firstAt + (tokens.expiresAt - tokens.obtainedAt));
  return { ...tokens, obtainedAt: Math.min(tokens.obtainedAt, firstAt), expiresAt };
}

export class RefreshProcedure {
  /** Generations whose request is still outstanding here (answer awaited after the soft timeout). */
  private readonly outstanding = new Set<number>();
  private readonly late = new Set<Promise<unknown>>();
  /** Errors of a send mark that could not be made: nothing was sent (a disk error, run() reports it). */
  private readonly notSent = new WeakSet<object>();

  /** Resolves once every answer still awaited after the soft timeout was used (each is bounded by the hard timeout). */
  async settled(): Promise<void> {
    while (this.late.size) await Promise.allSettled([...this.late]);
  }

  constructor(private readonly ctx: RefreshContext) {}

  isOutstanding(gen: number): boolean {
    return this.outstanding.has(gen);
  }

  /** `resource`: the audience asked for (audiences.ts); absent, the configured one. */
  async run(g: ActiveGeneration, rejected: boolean, minValidityMs: number | undefined, deadline: number, resource?: string): Promise<Outcome> {
    try {
      return await this.runLocked(g, rejected, minValidityMs, deadline, resource);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException)?.code;
      if (!code || !DISK_ERRORS.has(code)) throw err;
      // The lock or a claim could not be written: nothing was presented. Retried by itself.
      const problem = refusedWrite(this.ctx.store.dir, 'slot directory', err);
      this.ctx.log.error(problem.message);
      this.ctx.unwritable(problem);
      throw problem;
    }
  }

  private async runLocked(g: ActiveGeneration, rejectedInG: boolean, minValidityMs: number | undefined, deadline: number, resource: string | undefined): Promise<Outcome> {
    const { ctx } = this;
    // lock, in a directory checked first: one loosened since the last write is repaired and swept
    ctx.store.guard.check();
    const got = await ctx.waiter.acquire(() => ctx.store.latestGen() > g.gen, Math.max(0, deadline - performance.now()));
    if (!('lock' in got)) return { generation: await this.adopted() };
    const lock = got.lock;
    try {
      await ctx.step('locked');
      // find
      await ctx.sync();
      const current = ctx.requireHeld();
      // decide: a newer generation is adopted when it serves this audience (it always serves the
      // configured one); one refreshed for another audience may lack it, or carry the rejected token.
      const mine = tokenFor(current, resource);
      const rejected = rejectedInG && mine !== undefined && mine.accessToken === tokenFor(g, resource)?.accessToken;
      const fresh = !rejected && mine !== undefined && ctx.freshness.isFresh(mine, ctx.clock.now(), minValidityMs);
      // A newer generation refreshed for the configured audience is adopted as before (the caller checks it).
      if (fresh || (current.gen !== g.gen && resource === undefined && current.refreshedFor === undefined)) return { generation: current };
      const backoff = ctx.status.read(current.gen);
      if (backoff.offlineUntil && backoff.offlineUntil > ctx.clock.now()) {
        const error = backoffError(backoff);
        if (error instanceof TransientError) ctx.apply({ type: 'offline', problem: { code: 'offline', message: error.message } }, false);
        else ctx.apply({ type: 'failed', problem: { code: error.code, message: error.message } }, false);
        throw error;
      }
      if (this.outstanding.has(current.gen)) throw new TransientError('still waiting for the identity provider to answer the previous refresh', true);
      const refreshToken = current.tokens.refreshToken;
      if (!refreshToken) {
        if (current.refreshEnded) throw signInEnded(current.refreshEnded);
        throw new TokenRelayError('needs-sign-in', 'The access token expired and the identity provider issued no refresh token.',
          'Sign in again; add offline_access to tokenrelay.scopes if your provider needs it for refresh tokens.');
      }
      const claim = await this.claim(current);
      if ('follow' in claim || 'generation' in claim) return claim;
      // A generation below the mark was superseded once already: this slot directory is an older copy.
      const mark = await ctx.mark();
      if (current.gen < mark) throw await ctx.refuse(current, restoredStore(ctx.store.dir, current.gen, mark));
      // refresh, then save
      return { generation: await this.refresh(current, refreshToken, claim, lock, rejected, resource) };
    } finally {
      // Callers get their result without waiting for the unlock.
      void releaseLock(lock, ctx.log).then(() => ctx.step('released')).catch(() => undefined);
    }
  }

  /** spend-G is created exclusively; a dead claimer's claim is retried only inside the reuse grace. */
  private async claim(g: ActiveGeneration): Promise<{ claim: Claim; firstAt: number } | Outcome> {
    const { ctx } = this;
    let outcome = ctx.claims.claim(g.gen, ctx.me, ctx.clock.now());
    let firstAt = outcome.claim.at;
    for (;;) {
      if (outcome.kind === 'claimed') {
        await ctx.step('claimed');
        return { claim: outcome.claim, firstAt };
      }
      if (outcome.kind === 'live') return { follow: outcome.claim };
      const { claim, first } = outcome;
      if (ctx.claims.neverSent(g.gen)) {
        // Every claimer died before marking, so before creating its request: the token is unspent.
        ctx.log.warn(`pid ${claim.owner.pid} died while refreshing generation ${g.gen}, before sending its request; presenting the refresh token now`);
        firstAt = ctx.clock.now();
        outcome = ctx.claims.retry(g.gen, claim, ctx.me, firstAt);
        continue;
      }
      firstAt = first.at;
      // A claimer that sent and then exited on a full disk handed G+1 to a live sibling, which has not
      // written it yet: G was spent, and G+1 exists. Taken from that sibling, nothing is presented.
      const handed = await ctx.newerFromSiblings(g.gen);
      if (handed) return { generation: handed };
      if (this.insideGrace(firstAt)) {
        ctx.log.warn(`pid ${claim.owner.pid} died while refreshing generation ${g.gen}; presenting its refresh token again inside the identity provider's reuse grace`);
        outcome = ctx.claims.retry(g.gen, claim, ctx.me, ctx.clock.now());
        continue;
      }
      throw await ctx.refuse(g, signInEnded(claim.owner.pid > 0
        ? `pid ${claim.owner.pid} died while refreshing, so its refresh token may have been spent, and presenting it again would make the identity provider revoke the sign-in`
        : 'a refresh claim is unreadable, so its refresh token may have been spent'));
    }
  }

  /** True while a token first presented at `firstAt` may be presented again (reuse grace, with a margin). */
  private insideGrace(firstAt: number): boolean {
    const grace = this.ctx.settings.reuseGraceMs;
    return grace > 0 && this.ctx.clock.now() - firstAt < grace - graceMarginMs(grace);
  }

  private async refresh(g: ActiveGeneration, refreshToken: string, claimed: { claim: Claim; firstAt: number }, lock: HeldLock, rejected: boolean, resource?: string): Promise<ActiveGeneration> {
    const { ctx } = this;
    ctx.apply({ type: 'refresh-started' }, true);
    ctx.log.info(`Refreshing generation ${g.gen}${resource ? ` for ${resource}` : ''} (refresh token fingerprint ${fingerprint(refreshToken)})`);
    this.outstanding.add(g.gen);
    const presented = this.present(g, refreshToken, claimed.claim, claimed.firstAt, resource);
    let answer: Presented | typeof TIMED_OUT;
    try {
      answer = await within(presented, ctx.settings.softTimeoutMs);
    } catch (err) {
      this.outstanding.delete(g.gen);
      if (this.notSent.has(err as object)) {
        // Nothing was sent. Given back when nobody marked any claim of G (a full disk still takes the
        // unlink); else, or on a read-only disk, it stays this process's and is used on its next refresh.
        try { if (ctx.claims.neverSent(g.gen)) ctx.claims.release(g.gen); } catch { /* kept */ }
        throw err;
      }
      throw await this.failed(g, err);
    }
    if (answer === TIMED_OUT) {
      // Callers stop waiting; the answer is still used when it comes, and nobody else presents G meanwhile.
      const late = presented.then((answer) => this.answered(g, answer, rejected, resource), (err) => (this.notSent.has(err) ? undefined : this.failed(g, err)))
        .catch((err) => ctx.log.warn(`A late refresh answer could not be used: ${describeError(err)}`))
        .finally(() => { this.outstanding.delete(g.gen); this.late.delete(late); });
      this.late.add(late);
      throw await this.offline(g, new TransientError('timed out waiting for the identity provider; its answer will still be used', true), true);
    }
    this.outstanding.delete(g.gen);
    if (lock.compromised) ctx.log.warn('The refresh lock was taken over while refreshing; the spend claim still makes this result the only one');
    return this.answered(g, answer, rejected, resource);
  }

  /**
   * Where G's refresh token may be presented: its recorded origin, if the configuration still names
   * it. A record without one (an earlier version's) takes the configuration's, recorded in G+1.
   */
  private async destination(g: ActiveGeneration): Promise<TokenOrigin> {
    const { ctx } = this;
    const configured = await ctx.client.origin().catch((err: unknown) => {
      // Discovery never carries the refresh token: whatever happened to it, the token is unspent.
      throw err instanceof TransientError && err.mayHaveReachedServer ? new TransientError(err.detail, false) : err;
    });
    if (g.origin === undefined) {
      ctx.log.info(`Generation ${g.gen} does not record where its refresh token came from (an earlier version wrote it); recording ${configured.tokenEndpoint}, client ${configured.clientId}`);
      return configured;
    }
    if (!isTokenOrigin(g.origin)) {
      throw new TokenRelayError('corrupt-record', `Generation ${g.gen} records an unreadable origin for its refresh token, so Token Relay does not know where it may be presented.`,
        'Sign in again.');
    }
    if (!sameOrigin(g.origin, configured)) throw originChanged(g.origin, configured);
    return g.origin;
  }

  /**
   * Presents the refresh token. The request keeps its claim until the hard timeout: once sent, it
   * may have rotated the token. An answer lost after sending is presented again only inside the
   * reuse grace, under a new exclusive retry claim. Each claim is marked (durably) before its
   * request is created; a mark that cannot be made sends nothing (a disk error, as at the lock).
   */
  private async present(g: ActiveGeneration, refreshToken: string, claim: Claim, firstAt: number, resource?: string): Promise<Presented> {
    const { ctx } = this;
    const to = await this.destination(g);
    for (let current = claim; ;) {
      const controller = new AbortController();
      const mine = current;
      let marked!: () => void;
      const markedNow = new Promise<void>((resolve) => { marked = resolve; });
      const beforeSend = () => {
        try {
          ctx.claims.markSent(mine);
        } catch (err) {
          if (err && typeof err === 'object') this.notSent.add(err);
          throw err;
        }
        marked();
      };
      // A client that cannot call beforeSend at the last moment is marked for before it is called.
      if (!ctx.client.callsBeforeSend) beforeSend();
      const sentAt = ctx.clock.now(); // after an early mark: its fsync is not the request's time
      const request = ctx.client.refresh(refreshToken, controller.signal, to, ctx.client.callsBeforeSend ? beforeSend : undefined, resource);
      void elapsed(ctx.settings.hardTimeoutMs).then(() => controller.abort());
      // "sent" is the first moment the request may exist: after the mark (or after it failed unsent).
      await Promise.race([markedNow, request.then(() => undefined, () => undefined)]);
      await ctx.step('sent');
      try {
        return { tokens: replayDated(await request, current, sentAt, firstAt), sentAt, origin: to };
      } catch (err) {
        if (!(err instanceof TransientError && err.mayHaveReachedServer && this.insideGrace(firstAt))) throw err;
        const retry = ctx.claims.retry(g.gen, current, ctx.me, ctx.clock.now());
        if (retry.kind !== 'claimed') throw err;
        ctx.log.warn(`The refresh answer was lost (${err.detail}); presenting the token again inside the identity provider's reuse grace`);
        current = retry.claim;
      }
    }
  }

  /** Saves the answer as G+1; the claim makes it the only one (a new sign-in may have taken G+1). */
  private async answered(g: ActiveGeneration, { tokens, sentAt, origin }: Presented, rejected: boolean, resource?: string): Promise<ActiveGeneration> {
    const { ctx } = this;
    await ctx.step('answered');
    const got: TokenSet = { ...tokens, refreshToken: tokens.refreshToken ?? g.tokens.refreshToken, roundTripMs: tokens.roundTripMs ?? ctx.clock.now() - sentAt };
    // Every refresh rotates the grant's refresh token; the other audiences' access tokens stay valid
    // and are carried forward, so their waiters adopt instead of refreshing.
    const audiences = carryForward(g, ctx.clock.now(), resource, resource === undefined ? undefined : audienceToken(got));
    const next: ActiveGeneration = {
      gen: g.gen + 1, state: 'active', account: g.account, writer: ctx.me, at: ctx.clock.now(), ...(rejected ? { afterRejection: true } : {}),
      origin, // the rotated token came from where G's was presented
      tokens: resource === undefined ? got : { ...g.tokens, refreshToken: got.refreshToken, idToken: got.idToken ?? g.tokens.idToken },
      ...(audiences ? { audiences } : {}),
      ...(resource !== undefined ? { refreshedFor: resource } : {}),
    };
    if (!(await ctx.save(next))) {
      ctx.log.warn(`Generation ${next.gen} was written by someone else (a new sign-in); discarding this refresh result`);
      await ctx.sync();
      return ctx.requireHeld();
    }
    await ctx.raiseMark(next.gen); // before anyone gets its token
    try { ctx.status.clear(); } catch { /* the back-off file is advisory */ }
    ctx.log.info(`Refreshed: generation ${next.gen}${resource ? ` for ${resource}` : ''}, access token fingerprint ${fingerprint(tokenFor(next, resource)!.accessToken)} valid for ${Math.round((tokenFor(next, resource)!.expiresAt - ctx.clock.now()) / 1000)} s`);
    return next;
  }

  /** The error to throw after presenting failed; the state says what happens next. */
  private async failed(g: ActiveGeneration, err: unknown): Promise<TokenRelayError> {
    const { ctx } = this;
    if (err instanceof InvalidGrantError) {
      // Another process may have rotated it after all (a sign-in): look before concluding.
      await ctx.sync();
      if (ctx.store.latestGen() > g.gen) return new TokenRelayError('stale-view', 'The session changed while refreshing.', 'Try again.');
      ctx.log.warn(`The identity provider refused refresh token fingerprint ${fingerprint(g.tokens.refreshToken ?? '')}: ${err.detail}`);
      return ctx.refuse(g, err);
    }
    if (err instanceof ResourceRefusedError) return this.resourceRefused(g, err);
    const error = err instanceof TokenRelayError ? err : new TransientError(describeError(err), true);
    if (error instanceof TransientError && error.mayHaveReachedServer) {
      // Presented, with no answer: the token may be spent, and the reuse grace (if any) is over.
      return ctx.refuse(g, signInEnded(`the refresh request may have reached the identity provider but its answer was lost (${error.detail}), and presenting the token again would make it revoke the sign-in`));
    }
    if (error instanceof TransientError) {
      ctx.claims.release(g.gen); // answered with an error, or never reached: the token is unspent
      return this.offline(g, error);
    }
    // Refused for another reason (invalid_client, invalid_scope, …): unspent too, but asking again at
    // once would get the same answer, so every process waits out the shared back-off first. The
    // back-off is shared before the claim is given back, so a follower that takes over sees it.
    const failures = this.backOff(g, error.message, { code: error.code, message: error.message });
    ctx.claims.release(g.gen);
    ctx.log.error(`Refresh failed: ${error.message} (not asked again for ${failures.delay} ms)`);
    ctx.apply({ type: 'failed', problem: { code: error.code, message: error.message } }, true);
    return error;
  }

  /**
   * The server refused the audience asked for. Its answer issued nothing, but oidc-provider (and so
   * any server on it) rotates the refresh token before it resolves the resource, so presenting it
   * again could revoke the grant (P1: possibly presented). G+1 keeps every access token G had, and
   * no refresh token: the session serves them until they expire, then asks for a sign-in. No
   * shared back-off: the other audiences' tokens stay served.
   */
  private async resourceRefused(g: ActiveGeneration, err: ResourceRefusedError): Promise<TokenRelayError> {
    const { ctx } = this;
    ctx.log.error(`Refresh for ${err.resource} refused: ${err.detail}; refresh token fingerprint ${fingerprint(g.tokens.refreshToken ?? '')} is not presented again`);
    const { refreshToken: _spent, ...tokens } = g.tokens;
    const next: ActiveGeneration = {
      gen: g.gen + 1, state: 'active', account: g.account, writer: ctx.me, at: ctx.clock.now(), origin: g.origin, tokens,
      ...(g.audiences ? { audiences: carryForward(g, ctx.clock.now()) } : {}),
      refreshEnded: `the identity provider refused a refresh for the resource ${err.resource} (${err.detail}) and may have spent the refresh token doing so, so presenting it again could make it revoke the sign-in`,
    };
    if (await ctx.save(next)) await ctx.raiseMark(next.gen);
    else await ctx.sync();
    return err;
  }

  /** Counts one more failure for G in status.json and returns the back-off it earns. */
  private backOff(g: ActiveGeneration, lastError: string, refusal?: { code: TokenRelayError['code']; message: string }, awaitingAnswer?: true): { failures: number; delay: number } {
    const { ctx } = this;
    const failures = (ctx.status.read(g.gen).failures ?? 0) + 1;
    const delay = backoffDelay(ctx.settings.backoff, failures);
    try {
      ctx.status.write({ gen: g.gen, failures, offlineUntil: ctx.clock.now() + delay, lastError, by: ctx.me, awaitingAnswer, refusal });
    } catch (err) {
      ctx.log.debug(`Could not share the back-off: ${describeError(err)}`);
    }
    return { failures, delay };
  }

  /** Keeps the session and backs off, shared by every window through status.json. */
  private async offline(g: ActiveGeneration, error: TransientError, awaitingAnswer?: true): Promise<TransientError> {
    const { ctx } = this;
    const { failures, delay } = this.backOff(g, error.detail, undefined, awaitingAnswer);
    ctx.log.warn(`Refresh failed (${error.message}); keeping the session, retry ${failures} in ${delay} ms`);
    ctx.retryIn(delay);
    ctx.apply({ type: 'offline', problem: { code: 'offline', message: error.message } }, true);
    return error;
  }

  private async adopted(): Promise<ActiveGeneration> {
    await this.ctx.sync();
    return this.ctx.requireHeld();
  }
}
