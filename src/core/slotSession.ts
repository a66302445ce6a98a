// What this process holds of one slot, and bringing it in line with the store (sync and adoption).
// The store is the truth: a window is woken by the watched directory and then reads and
// authenticates the newest record; nothing else makes it adopt a generation.
import { EventEmitter } from 'node:events';
import type { Account, Disposable, Logger, SecretStore } from './types.ts';
import { isActive, type ActiveGeneration, type Generation, type SealedStore, type Writer } from './sealedStore.ts';
import type { SpendClaims } from './spendClaim.ts';
import type { Keyring } from './keyring.ts';
import type { SealKey } from './seal.ts';
import { transition, eventOf, statusNameOf, problemOf, type AccountInput, type AccountState, type EventName, type StatusName } from './accountState.ts';
import { InvalidGrantError, TokenRelayError, describeError } from './errors.ts';
import { redactor } from './redact.ts';
import { migrateLegacy } from './migration.ts';
import type { Credentials } from './credentials.ts';
import { TIMEOUTS } from './timeouts.ts';

export interface BrokerStatus {
  state: StatusName;
  account?: Account;
  expiresAt?: number;
  /** The scopes the server granted with the current token (its `scope`), when it said. */
  scopes?: string[];
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

export interface SessionPorts {
  store: SealedStore;
  claims: SpendClaims;
  keyring: Keyring;
  me: Writer;
  log: Logger;
  now(): number;
  secrets: SecretStore;
  /** Where a v1 session was kept (upgraded once, then deleted). */
  legacySecret: string;
  queueSecretWrite(write: () => Promise<void>): Promise<void>;
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  keyForWriting(): Promise<SealKey>;
  /** A generation came into hand (schedule its proactive refresh), or none is held any more. */
  held(g: ActiveGeneration | undefined): void;
  /** Wakes lock waiters and followers. */
  notify(): void;
  /** Runs before each pass: a generation the disk refused is retried first. */
  beforePass(): void;
}

export class SlotSession {
  state: AccountState = { kind: 'loading' };
  /** The generation in hand: adopted from the store, or written here (maybe not yet durable). */
  held: ActiveGeneration | undefined;
  /** The newest generation read or written, whatever its state. */
  seen: Generation | undefined;
  /** A refresh result the slot directory could not take yet (P5), retried until it is durable. */
  unpersisted: ActiveGeneration | undefined;
  private readonly events = new EventEmitter();
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private readAt = 0;

  constructor(private readonly p: SessionPorts) {}

  apply(input: AccountInput, byThisProcess: boolean): void {
    const prev = this.state;
    const next = transition(prev, input);
    this.state = next;
    const type = eventOf(prev, next);
    if (type) this.events.emit('event', { type, byThisProcess, status: this.status() } satisfies BrokerEvent);
  }

  onEvent(listener: (event: BrokerEvent) => void): Disposable {
    this.events.on('event', listener);
    return { dispose: () => this.events.off('event', listener) };
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
      scopes: g?.tokens.scope?.split(' ').filter(Boolean),
      generation: g?.gen ?? seen?.gen,
      lastRefresh: last ? { at: last.at, byThisProcess: last.writer.id === this.p.me.id, writer: last.writer } : undefined,
      followingPid: this.state.kind === 'active' && this.state.activity.kind === 'following' ? this.state.activity.pid : undefined,
      error: problem?.message,
      errorCode: problem?.code,
    };
  }

  peek(): Credentials | undefined {
    const g = this.held;
    return g && this.state.kind === 'active' ? { v: 1, gen: g.gen, account: g.account, tokens: g.tokens } : undefined;
  }

  requireHeld(): ActiveGeneration {
    if (this.held && this.state.kind === 'active') return this.held;
    throw this.stateError() ?? new TokenRelayError('not-signed-in', 'You are not signed in to Token Relay.', 'Sign in from the Accounts menu.');
  }

  stateError(): TokenRelayError | undefined {
    const s = this.state;
    if (s.kind === 'needs-sign-in') return new TokenRelayError('needs-sign-in', s.reason);
    if (s.kind === 'unreadable') return new TokenRelayError(s.problem.code, s.problem.message);
    return undefined;
  }

  adopt(g: ActiveGeneration, via: string): void {
    if (this.held && this.held.gen > g.gen && this.state.kind === 'active') return; // generations only move forward
    this.held = g;
    redactor.remember(g.tokens.accessToken, g.tokens.refreshToken, g.tokens.idToken, ...Object.values(g.audiences ?? {}).map((t) => t?.accessToken));
    this.p.held(g);
    this.p.log.debug(`Adopted generation ${g.gen} written by pid ${g.writer.pid} (${via})`);
    this.apply({ type: 'adopted', gen: g.gen }, g.writer.id === this.p.me.id);
    this.p.notify();
  }

  /** Nothing is held any more: signed out, or the sign-in ended. */
  release(input: AccountInput, byThisProcess: boolean): void {
    this.held = undefined;
    this.unpersisted = undefined;
    this.p.held(undefined);
    this.apply(input, byThisProcess);
  }

  async syncIfBehind(): Promise<void> {
    if (this.state.kind !== 'active' || this.unpersisted) return this.sync();
    // The watch wakes this process on every new generation; a timed re-read covers a lost event.
    if (performance.now() - this.readAt < TIMEOUTS.storeRecheck && this.p.store.latestGen() <= (this.held?.gen ?? 0)) return;
    return this.sync();
  }

  async syncQuietly(): Promise<void> {
    await this.sync().catch((err) => this.p.log.warn(`Could not read the shared session state: ${describeError(err)}`));
  }

  /** Brings this process in line with the store; one pass at a time, and one more if asked meanwhile. */
  sync(): Promise<void> {
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

  /** A claim appeared or went: show whether another process is refreshing what this one holds. */
  noticeClaim(): void {
    const g = this.held;
    if (!g || this.state.kind !== 'active' || this.state.activity.kind === 'refreshing') return;
    const claim = this.p.claims.inspect(g.gen, this.p.me);
    if (claim?.kind === 'live') this.apply({ type: 'following', pid: claim.claim.owner.pid }, false);
    else if (this.state.activity.kind === 'following') this.apply({ type: 'idle' }, false);
  }

  private async syncOnce(): Promise<void> {
    const { store, keyring, log } = this.p;
    this.readAt = performance.now();
    this.p.beforePass();
    let latest: number;
    try {
      latest = store.latestGen();
    } catch (err) {
      return this.apply({ type: 'unreadable', problem: { code: 'lock-dir', message: describeError(err) } }, false);
    }
    if (latest === 0) return this.loadLegacy();
    if (this.unpersisted && this.unpersisted.gen > latest) return; // ours is newer; it lands when the disk lets it
    if (this.state.kind === 'active' && latest === this.held?.gen) return;
    const found = await keyring.load();
    if ('none' in found) {
      return this.apply({ type: 'unreadable', problem: { code: 'key-missing', message: `The slot directory ${store.dir} holds sealed records but names no seal key. Sign in again; nothing else is touched.` } }, false);
    }
    if ('missing' in found) return this.apply({ type: 'unreadable', problem: { code: found.missing.code, message: found.missing.message } }, false);
    const read = store.read(latest, found.key);
    if ('unreadable' in read) {
      log.error(`Refusing the newest record: ${read.unreadable}`);
      return this.apply({ type: 'unreadable', problem: { code: 'corrupt-record', message: `The shared sign-in cannot be trusted: ${read.unreadable}. Remove that file from ${store.dir} if you did not write it, or sign in again; no other account is touched.` } }, false);
    }
    const g = read.generation;
    this.seen = g;
    if (isActive(g)) return this.adopt(g, 'from the sealed store');
    this.release(g.state === 'signed-out' ? { type: 'signed-out' } : { type: 'refused', reason: g.reason ?? new InvalidGrantError('refresh token refused').message }, g.writer.id === this.p.me.id);
  }

  /** No sealed record yet: first run, or a session stored by the previous layout (upgraded here). */
  private async loadLegacy(): Promise<void> {
    const { store, secrets, legacySecret } = this.p;
    const raw = await secrets.get(legacySecret).catch(() => undefined);
    if (!raw) return this.apply({ type: 'signed-out' }, false);
    await this.p.withLock(async () => {
      if (store.latestGen() > 0) return;
      const migrated = await migrateLegacy(store, raw, () => this.p.keyForWriting(), this.p.me, this.p.now(), this.p.log);
      if (!migrated) return this.apply({ type: 'signed-out' }, false);
      if ('problem' in migrated) return this.apply({ type: 'unreadable', problem: migrated.problem }, false);
      this.seen = migrated.generation;
      this.adopt(migrated.generation, 'upgraded from the previous layout');
      await this.p.queueSecretWrite(() => secrets.delete(legacySecret)).catch(() => undefined);
    });
    if (store.latestGen() > 0 && this.state.kind !== 'active') await this.syncOnce();
  }
}
