// The store of record of one account slot: each generation is a sealed file `g-<gen>.sealed`,
// created exclusively and durably, so exactly one process writes each generation and nobody
// holds the only copy of a token in memory. Only K's id (`key-id`) is kept here, never K.
//
//   g-000000000042.sealed  {"v":2,"gen":42,"state":"active","key":"<key id>","iv","ct","tag"}:
//                          AES-256-GCM over the generation's body; AAD = slot id + generation +
//                          key id + state (seal.ts), so the plaintext state is authenticated too;
//                          the body names the account, the tokens and their origin (where the
//                          refresh token may be presented: tokenOrigin.ts), and the access tokens
//                          of other audiences (audiences.ts; absent in earlier versions' records,
//                          which older versions still read: v stays 2, unknown body fields are kept)
//   key-id                 {"v":2,"id":"<key id>"}: which K seals this slot; written once
import { accessSync, constants, readFileSync, readdirSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Account, Disposable, TokenOrigin, TokenSet } from './types.ts';
import type { AudienceToken } from './audiences.ts';
import { aadOf, open, seal, type SealKey, type SealedBox } from './seal.ts';
import { replaceDurable, writeDurable } from './durableFile.ts';
import { ownedByThisUser, SlotGuard } from './slotGuard.ts';

export type SlotState = 'active' | 'needs-sign-in' | 'signed-out';

/** Who wrote a generation or holds a claim. */
export interface Writer {
  pid: number;
  id: string;
  label?: string;
  /** The OS's start time of that pid, so a reused pid is not taken for the writer (processIdentity.ts). */
  startedAt?: string;
}

/** One generation of a slot, as sealed. `tokens` and `account` are set for active generations. */
export interface Generation {
  gen: number;
  state: SlotState;
  account?: Account;
  tokens?: TokenSet;
  writer: Writer;
  at: number;
  reason?: string;
  /** Obtained because a server rejected its predecessor's access token: bounds rejection reports across processes. */
  afterRejection?: boolean;
  /**
   * Where its refresh token came from (tokenOrigin.ts), the only place it is presented: set at
   * sign-in, carried forward by every refresh. Absent in records of earlier versions.
   */
  origin?: TokenOrigin;
  /** Access tokens for other resources (RFC 8707), by resource URI, sealed like the rest (audiences.ts). */
  audiences?: Record<string, AudienceToken>;
  /** The resource this generation's refresh was for (absent: the configured one): bounds rejection reports per audience. */
  refreshedFor?: string;
  /** Why this generation holds no refresh token although the grant had one: said when a refresh is needed. */
  refreshEnded?: string;
}

export type ActiveGeneration = Generation & { state: 'active'; account: Account; tokens: TokenSet };

export type ReadResult = { generation: Generation } | { unreadable: string };

export type StoreEvent = 'generation' | 'claim' | 'status' | 'key';

const KEEP_GENERATIONS = 8;
/** Pruning waits until a storm's adopters have read what they were woken for. */
const PRUNE_DELAY_MS = 2000;
const genName = (gen: number) => `g-${String(gen).padStart(12, '0')}.sealed`;
const genOf = (name: string) => (/^g-(\d{12})\.sealed$/.exec(name) ? Number(name.slice(2, 14)) : undefined);
const KEY_ID = 'key-id';
const STATES = new Set<string>(['active', 'needs-sign-in', 'signed-out']);

/**
 * The newest generation's state as its envelope says, without K: a hint for deciding whether a
 * slot is worth opening at all. It is authenticated only when the record is opened.
 */
export function peekSlotState(dir: string): SlotState | undefined {
  try {
    const gen = newestIn(dir, ownedByThisUser);
    if (gen === 0) return undefined;
    const state = JSON.parse(readFileSync(join(dir, genName(gen)), 'utf8'))?.state;
    return STATES.has(state) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** The newest generation number in `dir` among files `owned` trusts, 0 when there is none. */
function newestIn(dir: string, owned: (path: string) => boolean): number {
  let max = 0;
  for (const name of readdirSync(dir)) {
    const gen = genOf(name) ?? 0;
    if (gen > max && owned(join(dir, name))) max = gen;
  }
  return max;
}

export function isActive(g: Generation | undefined): g is ActiveGeneration {
  return g?.state === 'active' && !!g.tokens && !!g.account;
}

export class SealedStore {
  readonly tempDir: string;
  readonly lockDir: string;
  readonly peersDir: string;
  /** Checks the directories before every write; files another user owns are never trusted. */
  readonly guard: SlotGuard;
  private pruneTimer: NodeJS.Timeout | undefined;

  private constructor(readonly dir: string, readonly slotId: string, report?: (message: string) => void) {
    // What changes often but concerns nobody else lives in subdirectories the watch does not see.
    this.tempDir = join(dir, '.tmp');
    this.lockDir = join(dir, 'lock');
    this.peersDir = join(dir, 'peers');
    this.guard = new SlotGuard(dir, [this.tempDir, this.lockDir, this.peersDir], report);
  }

  /** Creates or checks the slot directory and its subfolders (0700, this user's, no symlinks); `report` hears of foreign files. */
  static open(dir: string, slotId: string, report?: (message: string) => void): SealedStore {
    const store = new SealedStore(dir, slotId, report);
    store.guard.check(true);
    return store;
  }

  latestGen(): number {
    return newestIn(this.dir, (path) => this.guard.owned(path));
  }

  /** Generation numbers present, newest first. */
  generations(): number[] {
    return readdirSync(this.dir).filter((name) => genOf(name) !== undefined && this.guard.owned(join(this.dir, name)))
      .map((name) => genOf(name)!).sort((a, b) => b - a);
  }

  read(gen: number, key: SealKey): ReadResult {
    let raw: string;
    if (!this.guard.owned(join(this.dir, genName(gen)))) return { unreadable: `generation ${gen} belongs to another user, so Token Relay did not write it` };
    try {
      raw = readFileSync(join(this.dir, genName(gen)), 'utf8');
    } catch (err) {
      return { unreadable: `generation ${gen} cannot be read (${(err as NodeJS.ErrnoException).code})` };
    }
    return this.openRecord(raw, gen, key);
  }

  /**
   * A sealed record as its file holds it, authenticated under K for this slot and generation: what
   * read() does with a file, and what a sibling does with a record handed to it (siblings.ts).
   */
  openRecord(raw: string, gen: number, key: SealKey): ReadResult {
    let envelope: { v?: unknown; gen?: unknown; key?: unknown; state?: unknown } & Partial<SealedBox>;
    try {
      envelope = JSON.parse(raw);
    } catch {
      return { unreadable: `generation ${gen} is truncated or not a sealed record` };
    }
    if (envelope?.v !== 2 || envelope.gen !== gen || !STATES.has(envelope.state as string) || typeof envelope.iv !== 'string' || typeof envelope.ct !== 'string' || typeof envelope.tag !== 'string') {
      return { unreadable: `generation ${gen} is not a sealed record of this layout` };
    }
    if (envelope.key !== key.id) return { unreadable: `generation ${gen} is sealed under another key (${String(envelope.key)})` };
    const plain = open(key, aadOf(this.slotId, gen, key.id, envelope.state as string), envelope as SealedBox);
    if (plain === undefined) return { unreadable: `generation ${gen} does not authenticate under this slot's key (forged, moved or corrupt)` };
    try {
      return { generation: { ...JSON.parse(plain), gen, state: envelope.state } as Generation };
    } catch {
      return { unreadable: `generation ${gen} authenticates but its content is not readable` };
    }
  }

  /** Seals and durably creates generation `g.gen`; false when that generation exists already. */
  write(g: Generation, key: SealKey): boolean {
    const record = this.seal(g, key);
    this.guard.check();
    const created = this.guard.createExclusive(this.tempDir, genName(g.gen), record);
    if (created) this.schedulePrune(g.gen);
    return created;
  }

  /** Generation `g` sealed under K, as its file holds it (write() creates it; openRecord() reads it). */
  seal(g: Generation, key: SealKey): string {
    const { gen, state, ...body } = g;
    const box = seal(key, aadOf(this.slotId, gen, key.id, state), JSON.stringify(body));
    return JSON.stringify({ v: 2, gen, state, key: key.id, ...box });
  }

  readKeyId(): string | undefined {
    if (!this.guard.owned(join(this.dir, KEY_ID))) return undefined;
    try {
      const value = JSON.parse(readFileSync(join(this.dir, KEY_ID), 'utf8')) as { v?: number; id?: unknown };
      return value?.v === 2 && typeof value.id === 'string' ? value.id : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records which K seals this slot; false when another K was recorded first. */
  createKeyId(id: string): boolean {
    this.guard.check();
    return this.guard.createExclusive(this.tempDir, KEY_ID, JSON.stringify({ v: 2, id })) || this.readKeyId() === id;
  }

  /** Whether the slot directory takes a durable write now (after ENOSPC, EROFS, …). */
  writable(): boolean {
    const probe = join(this.tempDir, `probe-${process.pid}-${Date.now()}`);
    try {
      // Every folder a refresh writes to must take writes (a 0500 slot directory with a writable
      // .tmp is not writable); the probe then finds a full disk.
      for (const d of [this.dir, this.lockDir, this.tempDir]) accessSync(d, constants.W_OK);
      writeDurable(probe, 'probe');
      unlinkSync(probe);
      return true;
    } catch {
      try { unlinkSync(probe); } catch { /* never created */ }
      return false;
    }
  }

  /** A new K after the old one was lost everywhere: what it sealed is unreadable anyway. */
  replaceKeyId(id: string): void {
    this.guard.check();
    replaceDurable(this.dir, this.tempDir, KEY_ID, JSON.stringify({ v: 2, id }));
  }

  /** inotify-driven wake-ups; 'generation' events carry the generation the file name gives. */
  watch(listener: (event: StoreEvent, gen?: number) => void, unavailable?: (err: unknown) => void): Disposable {
    let watcher: FSWatcher | undefined;
    try {
      watcher = this.startWatch(listener);
    } catch (err) {
      // Out of inotify instances or watches (EMFILE, ENOSPC): the timed re-read (storeRecheck) still wakes every wait.
      unavailable?.(err);
      return { dispose: () => undefined };
    }
    return { dispose: () => { watcher?.close(); watcher = undefined; } };
  }

  private startWatch(listener: (event: StoreEvent, gen?: number) => void): FSWatcher {
    const watcher = watch(this.dir, { persistent: false }, (_type, name) => {
      const file = String(name ?? '');
      const gen = genOf(file);
      if (gen !== undefined) listener('generation', gen);
      else if (file.startsWith('spend-')) listener('claim');
      else if (file === 'status.json') listener('status');
      else if (file === KEY_ID) listener('key');
    });
    watcher.on('error', () => undefined);
    return watcher;
  }

  private schedulePrune(latestGen: number): void {
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = undefined;
      try { this.prune(latestGen); } catch { /* pruning is housekeeping */ }
    }, PRUNE_DELAY_MS);
    this.pruneTimer.unref();
  }

  private prune(latestGen: number): void {
    const floor = latestGen - KEEP_GENERATIONS + 1;
    if (floor <= 0) return;
    for (const name of readdirSync(this.dir)) {
      const claimed = /^spend-(\d+)/.exec(name);
      const gen = genOf(name) ?? (claimed ? Number(claimed[1]) : undefined);
      if (gen !== undefined && gen < floor) {
        try { unlinkSync(join(this.dir, name)); } catch { /* another process pruned it */ }
      }
    }
  }
}
