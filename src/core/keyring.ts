// K, the slot's seal key: 32 random bytes created once, under the lock, when the slot has none.
// It is kept in every key store the host has (keyStore.ts), in order of preference: the OS keyring,
// VS Code's SecretStorage, an opt-in key file. The slot directory names only its id. K never changes
// while records sealed with it exist, so every copy found is checked against that id, a copy
// missing from one store is restored from another, and a stale secret view cannot lose anything: a
// process whose stores lack K gets it from a live sibling (checked against the id) or waits,
// bounded, for a changing view (SecretStorage) to catch up.
//
// Beside K each store keeps the slot's high-water mark: the newest generation whose tokens were
// handed out, raised before they are. A store directory restored from a backup holds older
// generations whose refresh tokens were spent; their number is below the mark, so they are never
// presented (rollback guard). The mark names K's id: a new K (a slot created afresh) starts over.
import type { Disposable, Logger } from './types.ts';
import type { KeyStore } from './keyStore.ts';
import { newSealKey, sealKeyOf, type SealKey } from './seal.ts';
import type { SealedStore } from './sealedStore.ts';
import type { SiblingChannel } from './siblings.ts';
import { TokenRelayError, describeError } from './errors.ts';
import { TIMEOUTS } from './timeouts.ts';

export type KeyLookup = { key: SealKey } | { none: true } | { missing: TokenRelayError };

export interface KeyringOptions {
  /** In order of preference; at least one must take K when it is created. */
  stores: KeyStore[];
  /** K's entry name; the mark is `<name>/mark`. */
  name: string;
  slot: SealedStore;
  siblings?: SiblingChannel;
  /** Store writes run one at a time, in order (a late one never overwrites a newer one). */
  writeInOrder: (write: () => Promise<void>) => Promise<void>;
  log: Logger;
  catchUpMs?: number;
  /** Changes of a store whose view may lag (SecretStorage): waited on when K is not found yet. */
  onViewChange?: (listener: () => void) => Disposable;
}

export class Keyring {
  private key: SealKey | undefined;
  private markSeen = 0;

  constructor(private readonly o: KeyringOptions) {}

  current(): SealKey | undefined {
    return this.key;
  }

  /** K as held by this process, for answering siblings. */
  held(id: string): Buffer | undefined {
    return this.key?.id === id ? this.key.bytes : undefined;
  }

  /** Where K is kept, for messages: every store of this process, in order. */
  describe(): string {
    return this.o.stores.map((s) => s.description).join(', ');
  }

  /** The slot's K: from memory, a key store, a live sibling, or a lagging view once it caught up. */
  async load(): Promise<KeyLookup> {
    const id = this.o.slot.readKeyId();
    if (id === undefined) return { none: true };
    if (this.key?.id === id) return { key: this.key };
    const { key: stored, problems, missingIn, unasked } = await this.fromStores(id);
    if (stored) return { key: this.keep(stored, missingIn, unasked) };
    const fromSibling = await this.o.siblings?.askKey(this.o.slot.peersDir, id, (bytes) => sealKeyOf(bytes)?.id === id).catch(() => undefined);
    const sibling = fromSibling ? sealKeyOf(fromSibling) : undefined;
    if (sibling?.id === id) {
      this.o.log.info('Took the seal key from a live sibling (this process\'s key stores lacked it)');
      return { key: this.keep(sibling, this.o.stores) };
    }
    const late = this.o.onViewChange ? await this.waitForView(id) : undefined;
    if (late) return { key: this.keep(late, this.o.stores) };
    const why = problems.length ? ` ${problems.map((p) => p.message).join(' ')}` : '';
    // A key store that could not answer (locked, no D-Bus) is not a lost K: named, and recoverable.
    return { missing: new TokenRelayError(problems.length ? 'key-store' : 'key-missing', `This process cannot read the shared sign-in: the key that seals it is not in ${this.describe()}, and no other Token Relay process holds it.${why}`,
      problems.length ? 'Fix the key store named above (Token Relay recovers by itself), or sign in again.' : 'Open the window or agent where you signed in (Token Relay recovers by itself), or sign in again.') };
  }

  /**
   * Under the lock, when the slot has no K (or, `replacing`, when K is lost everywhere and the user
   * signs in again): stored before its id is published.
   */
  async create(replacing = false): Promise<SealKey> {
    const key = newSealKey();
    await this.storeEverywhere(key, true);
    if (replacing) this.o.slot.replaceKeyId(key.id);
    else if (!this.o.slot.createKeyId(key.id)) {
      const found = await this.load();
      if ('key' in found) return found.key;
      throw 'missing' in found ? found.missing : new Error('seal key vanished');
    }
    this.key = key;
    return key;
  }

  /** A lagging view changed (SecretStorage): a stale whole-view write may have removed K from it. */
  async repairView(): Promise<void> {
    const key = this.key;
    if (key) await this.storeIn(this.o.stores.filter((s) => s.kind === 'vscode'), key, false, true);
  }

  // ---- the high-water mark -------------------------------------------------------------------

  /** The highest mark any store holds for this K (0 when none). A store that cannot answer adds nothing. */
  async mark(): Promise<number> {
    const key = this.key;
    if (!key) return this.markSeen;
    const answers = await Promise.all(this.o.stores.map((s) => s.get(markName(this.o.name)).catch(() => undefined)));
    for (const raw of answers) this.markSeen = Math.max(this.markSeen, parseMark(raw, key.id));
    return this.markSeen;
  }

  /**
   * Raises the mark to `gen` in every store before that generation's tokens are handed out. Resolves
   * once one store took it (a keyring waiting on an unlock prompt never holds a refresh up); the
   * others finish in the background. A store never lowers a mark another process raised meanwhile.
   */
  async raiseMark(gen: number): Promise<void> {
    const key = this.key;
    if (!key || gen <= this.markSeen) return;
    this.markSeen = gen;
    const value = JSON.stringify({ v: 1, key: key.id, gen });
    const name = markName(this.o.name);
    const writes = this.o.stores.map(async (s) => {
      if (parseMark(await s.get(name), key.id) < gen) await s.set(name, value);
    });
    await Promise.any(writes).catch((err: AggregateError) => {
      this.o.log.warn(`Could not record generation ${gen} as handed out in any key store (${describeError(err.errors[0])}): a restored backup of the store would not be recognised`);
    });
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /**
   * Holds K, and restores it into the stores found without it; stores not asked yet are checked in
   * the background (K in SecretStorage reaches the OS keyring, for terminals with VS Code closed).
   */
  private keep(key: SealKey, missingIn: KeyStore[], unasked: KeyStore[] = []): SealKey {
    this.key = key;
    if (missingIn.length || unasked.length) void this.storeIn([...missingIn, ...unasked], key, false, true).catch(() => undefined);
    return key;
  }

  /**
   * The first copy whose id matches (stores after it are not asked: each ask may start a process);
   * the stores asked before it that lack it, to restore, and those after it; and why unreadable ones could not answer.
   */
  private async fromStores(id: string): Promise<{ key?: SealKey; problems: TokenRelayError[]; missingIn: KeyStore[]; unasked?: KeyStore[] }> {
    const problems: TokenRelayError[] = [];
    const missingIn: KeyStore[] = [];
    for (const [i, store] of this.o.stores.entries()) {
      try {
        const key = parseKey(await store.get(this.o.name));
        if (key?.id === id) return { key, problems, missingIn, unasked: this.o.stores.slice(i + 1) };
        missingIn.push(store);
        if (key) this.o.log.warn(`${store.description} holds a seal key for this slot that is not the one its records name (key-id ${id}); the right one replaces it once found`);
      } catch (err) {
        problems.push(err instanceof TokenRelayError ? err : new TokenRelayError('key-missing', `${store.description} could not be read (${describeError(err)}).`));
      }
    }
    return { problems, missingIn };
  }

  private storeEverywhere(key: SealKey, required: boolean): Promise<void> {
    return this.storeIn(this.o.stores, key, required);
  }

  /**
   * Puts K into `stores`. `required`: at least one must take it (a new K nobody keeps would seal
   * records nobody can open). `onlyMissing`: a repair, skipping stores that hold it meanwhile.
   */
  private async storeIn(stores: KeyStore[], key: SealKey, required: boolean, onlyMissing = false): Promise<void> {
    const value = JSON.stringify({ v: 2, key: key.bytes.toString('base64') });
    await this.o.writeInOrder(async () => {
      const errors: unknown[] = [];
      for (const store of stores) {
        try {
          if (onlyMissing && parseKey(await store.get(this.o.name))?.id === key.id) continue;
          await store.set(this.o.name, value);
        } catch (err) {
          errors.push(err);
          if (!required) this.o.log.warn(`Could not write the seal key to ${store.description}: ${describeError(err)}`);
        }
      }
      if (required && errors.length === stores.length) {
        const first = errors[0];
        throw first instanceof TokenRelayError ? first : new TokenRelayError('key-missing', `No key store took the seal key (${describeError(first)}).`,
          'Unlock your OS keyring, or opt in to a key file with TOKENRELAY_KEY_STORE=file.');
      }
      if (required && errors.length) this.o.log.warn(`The seal key is kept in ${stores.length - errors.length} of ${stores.length} key stores: ${errors.map(describeError).join('; ')}`);
    });
  }

  private async waitForView(id: string): Promise<SealKey | undefined> {
    const until = performance.now() + (this.o.catchUpMs ?? TIMEOUTS.keyCatchUp);
    while (performance.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(100, Math.max(1, until - performance.now())));
        const sub = this.o.onViewChange!(done);
        function done() { clearTimeout(timer); sub.dispose(); resolve(); }
      });
      const { key } = await this.fromStores(id);
      if (key) return key;
    }
    return undefined;
  }
}

const markName = (name: string) => `${name}/mark`;

function parseKey(raw: string | undefined): SealKey | undefined {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as { v?: number; key?: unknown };
    return value?.v === 2 && typeof value.key === 'string' ? sealKeyOf(Buffer.from(value.key, 'base64')) : undefined;
  } catch {
    return undefined;
  }
}

function parseMark(raw: string | undefined, keyId: string): number {
  if (!raw) return 0;
  try {
    const value = JSON.parse(raw) as { v?: number; key?: unknown; gen?: unknown };
    return value?.v === 1 && value.key === keyId && typeof value.gen === 'number' && Number.isSafeInteger(value.gen) ? value.gen : 0;
  } catch {
    return 0;
  }
}
