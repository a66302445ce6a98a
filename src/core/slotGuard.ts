// A slot directory is trusted only while it is this user's alone. Its mode is checked before every
// write, so a directory someone loosened while a window ran is repaired at the next write, not at
// the next start. Anything in it another user owns was not written by Token Relay: it is never
// trusted (ignored and reported once), and it is removed when the directory is repaired.
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createExclusive } from './durableFile.ts';
import { TokenRelayError } from './errors.ts';
import { checkPrivateDir, ensurePrivateDir } from './slotDir.ts';

/** Distinct foreign entries reported before the guard goes quiet (a directory full of them is one problem). */
const MAX_REPORTS = 20;
const MAX_NAMED = 5;

export class SlotGuard {
  private readonly reported = new Set<string>();
  private readonly uid = process.platform === 'win32' ? undefined : process.getuid!();

  /** `dir` first, then its subfolders (recreated when a foreign user replaced them). */
  constructor(private readonly dir: string, private readonly subdirs: readonly string[] = [], private report: (message: string) => void = () => undefined) {}

  /** Where warnings go (the broker's log); the store is opened before the broker has one to give. */
  reportTo(report: (message: string) => void): void {
    this.report = report;
  }

  /** Before every write: the directories are this user's and 0700; a loosened one is repaired and swept. `create`: at open. */
  check(create = false): void {
    if ((create ? ensurePrivateDir : checkPrivateDir)(this.dir)) this.sweep(this.dir);
    for (const sub of this.subdirs) if (ensurePrivateDir(sub)) this.sweep(sub);
  }

  /**
   * createExclusive in `dir`, where a file another user put under that name does not count as
   * taken: it is removed and the name claimed. False only when one of this user's is there.
   */
  createExclusive(tempDir: string, name: string, content: string): boolean {
    if (createExclusive(this.dir, tempDir, name, content)) return true;
    const path = join(this.dir, name);
    if (this.owned(path)) return false;
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (err) {
      throw new TokenRelayError('lock-dir', `${path} belongs to another user and cannot be removed (${(err as NodeJS.ErrnoException).code ?? String(err)}), so Token Relay cannot write it.`,
        `Remove it (it may have been planted), and make ${this.dir} writable only by you.`);
    }
    return createExclusive(this.dir, tempDir, name, content);
  }

  /** Whether the entry at `path` is this user's; another user's is reported once and never trusted. */
  owned(path: string): boolean {
    if (this.uid === undefined) return true;
    let uid: number;
    try {
      uid = lstatSync(path).uid;
    } catch {
      return true; // gone: the caller's read fails as it would without the guard
    }
    if (uid === this.uid) return true;
    this.once(path, `Ignoring ${path}: it belongs to another user (uid ${uid}), so Token Relay did not write it. Remove it; check who could write to ${this.dir}.`);
    return false;
  }

  /** Removes every entry of `dir` another user owns; says what it removed, and what it could not. */
  private sweep(dir: string): void {
    if (this.uid === undefined) return;
    const removed: string[] = [];
    const kept: string[] = [];
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      let uid: number;
      try {
        uid = lstatSync(path).uid;
      } catch {
        continue; // gone meanwhile
      }
      if (uid === this.uid) continue;
      try {
        rmSync(path, { recursive: true, force: true });
        removed.push(name);
      } catch {
        kept.push(name);
      }
    }
    const names = (list: string[]) => `${list.slice(0, MAX_NAMED).join(', ')}${list.length > MAX_NAMED ? `, … (${list.length} in all)` : ''}`;
    let message = `${dir} was open to other users; its mode is 0700 again.`;
    if (removed.length) message += ` Removed what another user put in it: ${names(removed)}.`;
    if (kept.length) message += ` Could not remove ${names(kept)} (ignored: not this user's); remove them by hand.`;
    this.once(`sweep:${dir}:${removed.length}:${kept.length}`, message);
  }

  private once(key: string, message: string): void {
    if (this.reported.has(key) || this.reported.size >= MAX_REPORTS) return;
    this.reported.add(key);
    this.report(message);
  }
}

/** Whether `path` is this user's (true when it is gone, or on Windows): for readers with no guard to report to. */
export function ownedByThisUser(path: string): boolean {
  if (process.platform === 'win32') return true;
  try {
    return lstatSync(path).uid === process.getuid!();
  } catch {
    return true;
  }
}
