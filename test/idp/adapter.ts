// Plain Map-backed oidc-provider adapter. The built-in memory adapter is an LRU that
// evicts live grants after ~1-2k writes, which would fake "refresh token not found".
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry { payload: AdapterPayload; expiresAt: number }

const SWEEP_EVERY = 1000; // upserts between sweeps of long-expired entries
const SWEEP_GRACE_MS = 10 * 60_000; // keep expired entries a while so errors stay precise

export class MapStore {
  readonly entries = new Map<string, Entry>();
  private readonly byGrant = new Map<string, Set<string>>();
  private readonly byUserCode = new Map<string, string>();
  private readonly byUid = new Map<string, string>();
  private writes = 0;

  /** oidc-provider's `adapter` option: one adapter view per model, all sharing this store. */
  readonly factory = (model: string): Adapter => new ModelAdapter(this, model);

  upsert(key: string, payload: AdapterPayload, expiresIn?: number): void {
    this.delete(key); // drop stale secondary indexes
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    this.entries.set(key, { payload, expiresAt });
    if (payload.grantId) {
      let keys = this.byGrant.get(payload.grantId);
      if (!keys) this.byGrant.set(payload.grantId, (keys = new Set()));
      keys.add(key);
    }
    if (payload.userCode) this.byUserCode.set(payload.userCode, key);
    if (payload.uid && key.startsWith('Session:')) this.byUid.set(payload.uid, key);
    if (++this.writes % SWEEP_EVERY === 0) this.sweep();
  }

  get(key: string | undefined): AdapterPayload | undefined {
    return key === undefined ? undefined : this.entries.get(key)?.payload;
  }

  keyForUserCode(userCode: string): string | undefined { return this.byUserCode.get(userCode); }
  keyForUid(uid: string): string | undefined { return this.byUid.get(uid); }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    const { grantId, userCode, uid } = entry.payload;
    if (grantId) this.byGrant.get(grantId)?.delete(key);
    if (userCode && this.byUserCode.get(userCode) === key) this.byUserCode.delete(userCode);
    if (uid && this.byUid.get(uid) === key) this.byUid.delete(uid);
    return true;
  }

  revokeGrant(grantId: string): void {
    for (const key of this.byGrant.get(grantId) ?? []) this.delete(key);
    this.byGrant.delete(grantId);
  }

  private sweep(): void {
    const cutoff = Date.now() - SWEEP_GRACE_MS;
    for (const [key, entry] of this.entries) if (entry.expiresAt < cutoff) this.delete(key);
    for (const [grantId, keys] of this.byGrant) if (keys.size === 0) this.byGrant.delete(grantId);
  }
}

class ModelAdapter implements Adapter {
  constructor(private readonly store: MapStore, private readonly model: string) {}

  private key(id: string): string { return `${this.model}:${id}`; }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    this.store.upsert(this.key(id), payload, expiresIn);
  }
  async find(id: string): Promise<AdapterPayload | undefined> { return this.store.get(this.key(id)); }
  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.store.get(this.store.keyForUserCode(userCode));
  }
  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.store.get(this.store.keyForUid(uid));
  }
  async consume(id: string): Promise<void> {
    const payload = this.store.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string): Promise<void> { this.store.delete(this.key(id)); }
  async revokeByGrantId(grantId: string): Promise<void> { this.store.revokeGrant(grantId); }
}
