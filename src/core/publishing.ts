// Publishing generations: sealed and durable in the slot directory before anyone uses them, which
// is also what wakes every sibling. When the directory refuses writes (full, read-only, I/O error),
// a refresh result is kept in memory and served, its claim stays (this process is alive, so nobody
// presents the old token), and writing is retried with back-off: degraded until it lands (P5).
import type { Logger } from './types.ts';
import type { ActiveGeneration, Generation, SealedStore, Writer } from './sealedStore.ts';
import type { SealKey } from './seal.ts';
import type { SlotSession } from './slotSession.ts';
import type { ProtocolStep } from './refreshProcedure.ts';
import { TokenRelayError, describeError } from './errors.ts';
import { redactor } from './redact.ts';
import { refusedWrite } from './slotDir.ts';
import { elapsed } from './deadline.ts';
import { TIMEOUTS } from './timeouts.ts';

export interface PublishingPorts {
  store: SealedStore;
  session: SlotSession;
  me: Writer;
  log: Logger;
  now(): number;
  key(): SealKey;
  step(step: ProtocolStep): Promise<void>;
  disposed(): boolean;
}

export class Publisher {
  private repairing = false;

  constructor(private readonly p: PublishingPorts) {}

  /** Creates generation `g` (sealed, durable, exclusive); false when it exists already. */
  write(g: Generation, key: SealKey = this.p.key()): boolean {
    const written = this.p.store.write(g, key);
    if (written) this.p.session.seen = g;
    return written;
  }

  /** A refresh result as the next generation: durable before any caller gets its token. */
  async save(next: ActiveGeneration): Promise<boolean> {
    const { session, log } = this.p;
    redactor.remember(next.tokens.accessToken, next.tokens.refreshToken, next.tokens.idToken, ...Object.values(next.audiences ?? {}).map((t) => t?.accessToken));
    try {
      if (!this.write(next)) return false;
    } catch (err) {
      session.unpersisted = next;
      const problem = refusedWrite(this.p.store.dir, 'slot directory', err);
      log.error(`${problem.message} Generation ${next.gen} is kept in memory and written as soon as the directory accepts it.`);
      session.adopt(next, 'kept in memory: not yet durable');
      this.degraded(problem);
      return true;
    }
    await this.p.step('durable');
    session.adopt(next, 'refreshed here');
    return true;
  }

  /**
   * A generation another process handed over because it could not write it before exiting: served
   * here at once and written now, or, while the slot directory refuses, kept in memory and retried.
   */
  adoptHandedOver(g: ActiveGeneration): void {
    const { session, log } = this.p;
    redactor.remember(g.tokens.accessToken, g.tokens.refreshToken, g.tokens.idToken, ...Object.values(g.audiences ?? {}).map((t) => t?.accessToken));
    try {
      if (this.write(g)) session.adopt(g, `handed over by pid ${g.writer.pid}`);
      else void session.syncQuietly(); // written meanwhile: the store has it
    } catch (err) {
      session.unpersisted = g;
      const problem = refusedWrite(this.p.store.dir, 'slot directory', err);
      log.error(`${problem.message} Generation ${g.gen}, handed over by pid ${g.writer.pid}, is kept in memory and written as soon as the directory accepts it.`);
      session.adopt(g, 'handed over, kept in memory: not yet durable');
      this.degraded(problem);
    }
  }

  /** A needs-sign-in generation after `after`: permanent until the user signs in again. */
  async refuse(after: ActiveGeneration, error: TokenRelayError): Promise<TokenRelayError> {
    const { session, log } = this.p;
    const reason = redactor.redact(error.message); // recorded and shown in every window
    const refused: Generation = { gen: after.gen + 1, state: 'needs-sign-in', account: after.account, reason, writer: this.p.me, at: this.p.now() };
    try {
      if (!this.write(refused)) {
        await session.sync(); // someone else concluded first (or signed in): theirs stands
        return session.stateError() ?? error;
      }
    } catch (err) {
      log.warn(`Could not record that the sign-in ended: ${describeError(err)}`);
    }
    log.warn(`Sign-in ended: ${reason}`);
    session.release({ type: 'refused', reason }, true);
    return error;
  }

  /** Degraded until the slot directory takes writes again; what is pending is written then. */
  degraded(problem: TokenRelayError): void {
    const { session } = this.p;
    session.apply({ type: 'degraded', problem: { code: 'degraded', message: problem.message } }, true);
    if (this.repairing) return;
    this.repairing = true;
    void (async () => {
      for (let attempt = 1; !this.p.disposed() && session.state.kind === 'active' && session.state.degraded; attempt++) {
        await elapsed(Math.min(TIMEOUTS.persistRetryCap, TIMEOUTS.persistRetryBase * 2 ** (attempt - 1)));
        if (session.unpersisted) this.persistPending();
        else if (this.p.store.writable()) session.apply({ type: 'persisted' }, true);
      }
    })().finally(() => { this.repairing = false; });
  }

  /** One attempt to make the unpersisted generation durable. */
  persistPending(): void {
    const { session, log } = this.p;
    const pending = session.unpersisted;
    if (!pending) return;
    try {
      const written = this.write(pending);
      session.unpersisted = undefined;
      if (!written) {
        log.warn(`Generation ${pending.gen} was written by someone else meanwhile; discarding this process's copy`);
        void session.syncQuietly();
        return;
      }
      log.info(`Generation ${pending.gen} is now durable in the slot directory`);
      session.apply({ type: 'persisted' }, true);
    } catch (err) {
      log.debug(`Slot directory still not writable: ${describeError(err)}`);
    }
  }
}
