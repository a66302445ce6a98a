// The shared, non-secret journal of one account slot. It holds no token: only generations,
// fingerprints, expiry and who wrote what. Exclusive file creation (link / O_EXCL) makes each
// generation and each refresh-token spend claimable by exactly one process, lock or no lock.
//
// The reads and exclusive creates on the refresh path are synchronous on purpose: these are tiny
// local files, where a system call takes microseconds, while an asynchronous one is a thread-pool
// round trip that, on a loaded machine, waits for the CPU again (measured: 10 ms per journal
// write in a 24-process storm on 2 cores, against 0.1 ms synchronous).
import { promises as fs, linkSync, readdirSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Account, Disposable } from './types.ts';
import { TokenRelayError } from './errors.ts';
import { removeFile } from './removeFile.ts';

export type SlotState = 'active' | 'needs-sign-in' | 'signed-out';

export interface Writer {
  pid: number;
  id: string;
  label?: string;
  /** Its peer socket, for siblings to link to (see peerChannel.ts). */
  peer?: string;
}

export interface GenerationRecord {
  v: 1;
  gen: number;
  state: SlotState;
  refreshFp?: string;
  accessFp?: string;
  expiresAt?: number;
  account?: Account;
  writer: Writer;
  /** Peer socket of the writer, which can hand the credentials to processes whose secret view is stale. */
  peer?: string;
  at: number;
  reason?: string;
}

export interface SpendMarker {
  gen: number;
  owner: Writer;
  at: number;
}

export interface SlotStatus {
  /** The generation whose refresh failed: once a newer one exists, the status is history. */
  gen?: number;
  offlineUntil?: number;
  failures?: number;
  lastError?: string;
  by?: Writer;
}

export interface PeerEntry {
  id: string;
  socket: string;
  pid: number;
}

export type JournalEvent = 'generation' | 'status' | 'spend';

const KEEP_GENERATIONS = 8;
/** Pruning deletes files every sibling watches: it waits until a storm's adopters are done. */
const PRUNE_DELAY_MS = 2000;
const genName = (gen: number) => `g-${String(gen).padStart(12, '0')}.json`;
const spendName = (gen: number, retry: boolean) => `spend-${gen}${retry ? '.retry' : ''}`;
const isPeerFile = (name: string) => name.startsWith('peer-') && name.endsWith('.json');

export class Journal {
  // Every process watches the slot directory, and each change there wakes all of them. What
  // changes often but concerns nobody else (temporary files, the lock, sibling registrations)
  // lives in subdirectories, which the watch does not see.
  readonly lockTarget: string;
  readonly tempDir: string;
  private readonly peersDir: string;
  private pruneTimer: NodeJS.Timeout | undefined;

  private constructor(readonly dir: string) {
    this.lockTarget = join(dir, 'lock', 'refresh');
    this.tempDir = join(dir, '.tmp');
    this.peersDir = join(dir, 'peers');
  }

  /** Creates the slot directory (0700) and proves it is writable, or names the fix. */
  static async open(dir: string): Promise<Journal> {
    const journal = new Journal(dir);
    try {
      for (const sub of [journal.tempDir, journal.peersDir, dirname(journal.lockTarget)]) await fs.mkdir(sub, { recursive: true, mode: 0o700 });
      const probe = join(dir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
      await fs.writeFile(probe, '');
      await fs.unlink(probe);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new TokenRelayError('lock-dir', `Token Relay cannot write its lock directory ${dir} (${reason}).`,
        'Make the directory writable by your user or free disk space, then reload the window.');
    }
    return journal;
  }

  async latest(): Promise<GenerationRecord | undefined> {
    const names = readdirSync(this.dir).filter((n) => n.startsWith('g-') && n.endsWith('.json')).sort();
    for (let i = names.length - 1; i >= 0; i--) {
      const record = this.readJsonSync<GenerationRecord>(names[i]);
      if (record && record.v === 1 && typeof record.gen === 'number') return record;
    }
    return undefined;
  }

  /** Writes generation `record.gen` if nobody has; false when it already exists. */
  async write(record: GenerationRecord): Promise<boolean> {
    const created = this.createExclusive(genName(record.gen), JSON.stringify(record));
    if (created) this.schedulePrune(record.gen);
    return created;
  }

  /** The one process that creates this marker may present generation `gen`'s refresh token. */
  async claimSpend(gen: number, owner: Writer, retry = false): Promise<SpendMarker | 'claimed'> {
    const marker: SpendMarker = { gen, owner, at: Date.now() };
    if (this.createExclusive(spendName(gen, retry), JSON.stringify(marker))) return 'claimed';
    return this.readJsonSync<SpendMarker>(spendName(gen, retry)) ?? marker;
  }

  async readSpend(gen: number): Promise<SpendMarker | undefined> {
    return this.readJsonSync<SpendMarker>(spendName(gen, false));
  }

  /** Gives a claim back after a failure that certainly left the token unspent (or a transient one). */
  async releaseSpend(gen: number): Promise<void> {
    await Promise.all([false, true].map((retry) => removeFile(join(this.dir, spendName(gen, retry)))));
  }

  async readStatus(): Promise<SlotStatus> {
    return this.readJsonSync<SlotStatus>('status.json') ?? {};
  }

  async writeStatus(status: SlotStatus): Promise<void> {
    await this.replace(join(this.dir, 'status.json'), JSON.stringify(status));
  }

  async registerPeer(id: string, socket: string): Promise<void> {
    await this.replace(join(this.peersDir, `peer-${id}.json`), JSON.stringify({ socket, pid: process.pid }));
  }

  async unregisterPeer(id: string): Promise<void> {
    await removeFile(join(this.peersDir, `peer-${id}.json`));
  }

  async peers(): Promise<PeerEntry[]> {
    const names = (await fs.readdir(this.peersDir)).filter(isPeerFile);
    const found = await Promise.all(names.map((n) => this.readPeer(n)));
    return found.filter((p): p is PeerEntry => !!p);
  }

  private async readPeer(name: string): Promise<PeerEntry | undefined> {
    const peer = await this.readJson<{ socket: string; pid: number }>(join(this.peersDir, name));
    return peer && typeof peer.socket === 'string' ? { id: name.slice(5, -5), socket: peer.socket, pid: peer.pid } : undefined;
  }

  /** inotify-driven: waiters wake on the write itself, not on a polling interval. A 'generation' event carries the generation its file name gives. */
  watch(listener: (event: JournalEvent, gen?: number) => void): Disposable {
    let watcher: FSWatcher | undefined = watch(this.dir, { persistent: false }, (_type, name) => {
      const file = String(name ?? '');
      if (file.startsWith('g-')) listener('generation', parseInt(file.slice(2), 10) || undefined);
      else if (file === 'status.json') listener('status');
      else if (file.startsWith('spend-')) listener('spend');
    });
    watcher.on('error', () => undefined);
    return { dispose: () => { watcher?.close(); watcher = undefined; } };
  }

  private createExclusive(name: string, content: string): boolean {
    const temp = this.tempName();
    writeFileSync(temp, content, { mode: 0o600 });
    try {
      linkSync(temp, join(this.dir, name));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      void fs.unlink(temp).catch(() => undefined); // off the critical path: nobody watches .tmp
    }
  }

  /** Atomically replaces the file at `path`: written aside, then renamed over it. */
  private async replace(path: string, content: string): Promise<void> {
    const temp = this.tempName();
    await fs.writeFile(temp, content, { mode: 0o600 });
    await fs.rename(temp, path);
  }

  private tempName(): string {
    return join(this.tempDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  private readJsonSync<T>(name: string): T | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    try {
      return JSON.parse(await fs.readFile(path, 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  private schedulePrune(latestGen: number): void {
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = undefined;
      void this.prune(latestGen).catch(() => undefined);
    }, PRUNE_DELAY_MS);
    this.pruneTimer.unref();
  }

  private async prune(latestGen: number): Promise<void> {
    const floor = latestGen - KEEP_GENERATIONS;
    if (floor <= 0) return;
    const names = await fs.readdir(this.dir);
    await Promise.all(names.map((n) => {
      const gen = n.startsWith('g-') ? Number(n.slice(2, 14)) : n.startsWith('spend-') ? parseInt(n.slice(6), 10) : NaN;
      return gen < floor ? removeFile(join(this.dir, n)) : undefined;
    }));
  }
}
