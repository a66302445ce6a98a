// Two secret-store models with the consistency VS Code really offers between windows.
import { promises as fs, readFileSync, watch, writeFileSync, renameSync, mkdirSync, type FSWatcher } from 'node:fs';
import { join, dirname } from 'node:path';
import { EventEmitter } from 'node:events';
import type { Disposable, SecretStore } from '../../src/core/types.ts';

export type StoreModel = 'shared-lag' | 'snapshot';

/**
 * Desktop-like: one shared backing (a file per key); another process's write becomes visible
 * here only `lagMs` later, with the change event delivered late too. Own writes are seen at once.
 */
export class LaggedSharedStore implements SecretStore {
  private readonly view = new Map<string, string | undefined>();
  private readonly events = new EventEmitter();
  private readonly watcher: FSWatcher;
  private readonly ownWrites = new Set<string>();

  constructor(private readonly dir: string, private readonly lagMs: number) {
    mkdirSync(dir, { recursive: true });
    this.watcher = watch(dir, { persistent: false }, (_e, name) => {
      const key = name ? decodeURIComponent(String(name)) : undefined;
      if (!key || key.startsWith('.')) return;
      setTimeout(() => this.refreshKey(key), this.lagMs).unref();
    });
  }

  async get(key: string): Promise<string | undefined> {
    if (!this.view.has(key)) this.view.set(key, this.readBacking(key));
    return this.view.get(key);
  }

  async store(key: string, value: string): Promise<void> {
    const temp = join(this.dir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
    await fs.writeFile(temp, value, { mode: 0o600 });
    await fs.rename(temp, this.path(key));
    this.view.set(key, value);
    this.events.emit('change', key);
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.path(key), { force: true });
    this.view.set(key, undefined);
    this.events.emit('change', key);
  }

  onDidChange(listener: (key: string) => void): Disposable {
    this.events.on('change', listener);
    return { dispose: () => this.events.off('change', listener) };
  }

  close(): void {
    this.watcher.close();
  }

  private refreshKey(key: string): void {
    const value = this.readBacking(key);
    if (this.view.get(key) === value) return;
    this.view.set(key, value);
    this.events.emit('change', key);
  }

  private readBacking(key: string): string | undefined {
    try {
      return readFileSync(this.path(key), 'utf8');
    } catch {
      return undefined;
    }
  }

  private path(key: string): string {
    return join(this.dir, encodeURIComponent(key));
  }
}

/**
 * code-server-like: the whole store is loaded once at start and never re-read; every store()
 * writes this process's whole view back, so the last writer wins and may wipe others' values.
 */
export class SnapshotStore implements SecretStore {
  private readonly view: Record<string, string>;
  private readonly events = new EventEmitter();

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    try {
      this.view = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      this.view = {};
    }
  }

  async get(key: string): Promise<string | undefined> {
    return this.view[key];
  }

  async store(key: string, value: string): Promise<void> {
    this.view[key] = value;
    this.flush();
    this.events.emit('change', key);
  }

  async delete(key: string): Promise<void> {
    delete this.view[key];
    this.flush();
    this.events.emit('change', key);
  }

  onDidChange(listener: (key: string) => void): Disposable {
    this.events.on('change', listener);
    return { dispose: () => this.events.off('change', listener) };
  }

  close(): void {}

  private flush(): void {
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(this.view), { mode: 0o600 });
    renameSync(temp, this.file);
  }
}

export function openStore(model: StoreModel, path: string, lagMs: number): SecretStore & { close(): void } {
  return model === 'snapshot' ? new SnapshotStore(join(path, 'secrets.json')) : new LaggedSharedStore(path, lagMs);
}

/** A SecretStorage in memory, for one process's windows that share it (VS Code's own is per installation). */
export function memoryStore(): SecretStore {
  const data = new Map<string, string>();
  const listeners = new Set<(key: string) => void>();
  const changed = (key: string) => { for (const l of listeners) l(key); };
  return {
    get: async (key) => data.get(key),
    store: async (key, value) => { data.set(key, value); changed(key); },
    delete: async (key) => { data.delete(key); changed(key); },
    onDidChange(listener): Disposable {
      listeners.add(listener);
      return { dispose: () => listeners.delete(listener) };
    },
  };
}
