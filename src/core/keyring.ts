// K, the slot's seal key: 32 random bytes created once, under the lock, when the slot has none.
// It lives in SecretStorage under one key; the slot directory names only its id. Because K never
// changes while records sealed with it exist, a stale secret view cannot lose anything: a window
// whose view lacks K gets it from a live sibling (checked against the id) or waits, bounded, for
// its view to catch up, and then writes it into its own view.
import type { Logger, SecretStore } from './types.ts';
import { newSealKey, sealKeyOf, type SealKey } from './seal.ts';
import type { SealedStore } from './sealedStore.ts';
import type { SiblingChannel } from './siblings.ts';
import { TokenRelayError, describeError } from './errors.ts';
import { TIMEOUTS } from './timeouts.ts';

export type KeyLookup = { key: SealKey } | { none: true } | { missing: TokenRelayError };

export class Keyring {
  private key: SealKey | undefined;

  constructor(
    private readonly secrets: SecretStore,
    private readonly secretName: string,
    private readonly slot: SealedStore,
    private readonly siblings: SiblingChannel | undefined,
    private readonly writeSecret: (write: () => Promise<void>) => Promise<void>,
    private readonly log: Logger,
    private readonly catchUpMs: number = TIMEOUTS.keyCatchUp,
  ) {}

  current(): SealKey | undefined {
    return this.key;
  }

  /** K as held by this process, for answering siblings. */
  held(id: string): Buffer | undefined {
    return this.key?.id === id ? this.key.bytes : undefined;
  }

  /** The slot's K: from memory, this window's view, a live sibling, or the view once it caught up. */
  async load(): Promise<KeyLookup> {
    const id = this.slot.readKeyId();
    if (id === undefined) return { none: true };
    if (this.key?.id === id) return { key: this.key };
    const viewed = await this.fromView(id);
    if (viewed) return { key: this.keep(viewed, false) };
    const fromSibling = await this.siblings?.askKey(this.slot.peersDir, id).catch(() => undefined);
    const sibling = fromSibling ? sealKeyOf(fromSibling) : undefined;
    if (sibling?.id === id) {
      this.log.info('Took the seal key from a live sibling (this window\'s secret storage lacked it)');
      return { key: this.keep(sibling, true) };
    }
    const late = await this.waitForView(id);
    if (late) return { key: this.keep(late, false) };
    return { missing: new TokenRelayError('key-missing', 'This window cannot read the shared sign-in: its secret storage lacks the key that seals it, and no other open window holds that key.',
      'Open the window where you signed in (Token Relay recovers by itself), or sign in again.') };
  }

  /**
   * Under the lock, when the slot has no K (or, `replacing`, when K is lost in every window and the
   * user signs in again): stored in SecretStorage before its id is published.
   */
  async create(replacing = false): Promise<SealKey> {
    const key = newSealKey();
    await this.store(key);
    if (replacing) this.slot.replaceKeyId(key.id);
    else if (!this.slot.createKeyId(key.id)) {
      const found = await this.load();
      if ('key' in found) return found.key;
      throw 'missing' in found ? found.missing : new Error('seal key vanished');
    }
    this.key = key;
    return key;
  }

  /** Writes K back into this window's view if a stale whole-view write removed it. */
  async repairView(): Promise<void> {
    const key = this.key;
    if (!key || (await this.fromView(key.id).catch(() => undefined))) return;
    await this.storeQuietly(key);
  }

  private keep(key: SealKey, store: boolean): SealKey {
    this.key = key;
    if (store) void this.storeQuietly(key);
    return key;
  }

  /** Writing K back into this window's view is a repair: a failure is logged, and retried at the next change. */
  private storeQuietly(key: SealKey): Promise<void> {
    return this.store(key).catch((err) => this.log.warn(`Could not write the seal key to secret storage: ${describeError(err)}`));
  }

  private store(key: SealKey): Promise<void> {
    return this.writeSecret(() => this.secrets.store(this.secretName, JSON.stringify({ v: 2, key: key.bytes.toString('base64') })));
  }

  private async fromView(id: string): Promise<SealKey | undefined> {
    const raw = await this.secrets.get(this.secretName);
    if (!raw) return undefined;
    try {
      const value = JSON.parse(raw) as { v?: number; key?: unknown };
      const key = value?.v === 2 && typeof value.key === 'string' ? sealKeyOf(Buffer.from(value.key, 'base64')) : undefined;
      return key?.id === id ? key : undefined;
    } catch {
      return undefined;
    }
  }

  private async waitForView(id: string): Promise<SealKey | undefined> {
    const until = performance.now() + this.catchUpMs;
    while (performance.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(100, Math.max(1, until - performance.now())));
        const sub = this.secrets.onDidChange(done);
        function done() { clearTimeout(timer); sub.dispose(); resolve(); }
      });
      const late = await this.fromView(id);
      if (late) return late;
    }
    return undefined;
  }
}
