// O_EXCL spend claims: the process that creates `spend-<gen>` is the only one that may present
// generation `gen`'s refresh token. Safety rests on these files, never on the lock alone.
// With a reuse grace at the IdP, a dead claimer's claim may be followed by `spend-<gen>.<n>`, one
// exclusive retry claim at a time, while the first claim is still young enough.
//
// The send mark: each claim is made with an `unsent` companion (`spend-<gen>[.<n>].unsent`), which
// the claimer removes (unlink, then fsync of the directory) before its request exists at all. A
// dead claimer whose companion is still there provably never handed the token to the kernel, so its
// claim does not count as spent. A claim without one (removed, never made, or made by an older
// version that does not mark) counts as possibly spent: the safe reading. Removing a file needs no
// space, so the mark works on a full disk; on a read-only one it fails and nothing is sent.
import { closeSync, lstatSync, openSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Writer } from './sealedStore.ts';
import { processAlive } from './processIdentity.ts';
import { SlotGuard } from './slotGuard.ts';
import { fsyncDir } from './durableFile.ts';

export { processAlive };

export interface Claim {
  gen: number;
  seq: number;
  owner: Writer;
  /** Wall-clock ms, taken right before the request was sent. */
  at: number;
}

export type ClaimOutcome =
  | { kind: 'claimed'; claim: Claim }
  /** A live process holds the claim: follow it. */
  | { kind: 'live'; claim: Claim }
  /** Its holder died; `first` is the generation's first claim (when the token was first presented). */
  | { kind: 'dead'; claim: Claim; first: Claim };

const nameOf = (gen: number, seq: number) => (seq === 0 ? `spend-${gen}` : `spend-${gen}.${seq}`);
const unsentOf = (gen: number, seq: number) => `${nameOf(gen, seq)}.unsent`;

export class SpendClaims {
  /**
   * `guard`: the slot directory's (SealedStore.guard). A claim another user owns was not made by
   * any of this user's processes: it is ignored (never a dead claimer) and its name claimed over it.
   */
  constructor(private readonly dir: string, private readonly tempDir: string, private readonly isAlive: (owner: Writer) => boolean = (o) => processAlive(o.pid, o.startedAt),
    private readonly guard = new SlotGuard(dir, [tempDir])) {}

  claim(gen: number, me: Writer, now: number): ClaimOutcome {
    const mine: Claim = { gen, seq: 0, owner: me, at: now };
    this.guard.check();
    if (this.guard.createExclusive(this.tempDir, nameOf(gen, 0), JSON.stringify(mine))) return this.won(mine);
    return this.inspect(gen, me)!;
  }

  /** Claims the retry after `after`, the dead claim the caller saw; another process may win it. */
  retry(gen: number, after: Claim, me: Writer, now: number): ClaimOutcome {
    const mine: Claim = { gen, seq: after.seq + 1, owner: me, at: now };
    this.guard.check();
    if (this.guard.createExclusive(this.tempDir, nameOf(gen, mine.seq), JSON.stringify(mine))) return this.won(mine);
    return this.inspect(gen, me)!;
  }

  /**
   * A won claim gets its `unsent` companion. It needs no fsync: lost in a crash, the claim only
   * counts as possibly spent. Until it exists the claim counts so too; failing to make it is harmless.
   */
  private won(claim: Claim): ClaimOutcome {
    try { closeSync(openSync(join(this.dir, unsentOf(claim.gen, claim.seq)), 'wx', 0o600)); } catch { /* counts as marked */ }
    return { kind: 'claimed', claim };
  }

  /**
   * The send mark: called right before the request carrying the token is created. Durable when it
   * returns (the directory is fsync'd); throws (a disk error) when it cannot be made: send nothing then.
   */
  markSent(claim: Claim): void {
    try {
      unlinkSync(join(this.dir, unsentOf(claim.gen, claim.seq)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    fsyncDir(this.dir);
  }

  /**
   * True when no claim of `gen` was marked: every claimer died (or gave up) before creating its
   * request, so the refresh token was never presented and may be presented again under a retry claim.
   */
  neverSent(gen: number): boolean {
    const seqs = this.seqs(gen);
    return seqs.length > 0 && seqs.every((seq) => {
      const path = join(this.dir, unsentOf(gen, seq));
      return this.read(gen, seq).owner.pid > 0 && this.exists(path) && this.guard.owned(path);
    });
  }

  private exists(path: string): boolean {
    try {
      return lstatSync(path).isFile();
    } catch {
      return false;
    }
  }

  /** The state of generation `gen`'s newest claim, if any. */
  inspect(gen: number, me?: Writer): ClaimOutcome | undefined {
    const seqs = this.seqs(gen);
    if (seqs.length === 0) return undefined;
    const latest = this.read(gen, seqs[seqs.length - 1]);
    if (me && latest.owner.id === me.id) return { kind: 'claimed', claim: latest };
    if (this.isAlive(latest.owner)) return { kind: 'live', claim: latest };
    return { kind: 'dead', claim: latest, first: this.read(gen, seqs[0]) };
  }

  /** Gives the claims back after a failure that certainly left the token unspent. */
  release(gen: number): void {
    for (const seq of this.seqs(gen)) {
      // The companion first: removed after the claim, it could be a new claimer's.
      try { unlinkSync(join(this.dir, unsentOf(gen, seq))); } catch { /* gone already */ }
      try { unlinkSync(join(this.dir, nameOf(gen, seq))); } catch { /* gone already */ }
    }
  }

  private seqs(gen: number): number[] {
    const prefix = `spend-${gen}`;
    return readdirSync(this.dir)
      .filter((n) => n === prefix || (n.startsWith(`${prefix}.`) && /^\d+$/.test(n.slice(prefix.length + 1))))
      .filter((n) => this.guard.owned(join(this.dir, n)))
      .map((n) => (n === prefix ? 0 : Number(n.slice(prefix.length + 1))))
      .sort((a, b) => a - b);
  }

  /** An unreadable claim names no live owner: it is treated as a dead one (never presented again). */
  private read(gen: number, seq: number): Claim {
    try {
      const c = JSON.parse(readFileSync(join(this.dir, nameOf(gen, seq)), 'utf8')) as Claim;
      if (typeof c?.owner?.pid === 'number' && typeof c.owner.id === 'string' && typeof c.at === 'number') return { ...c, gen, seq };
    } catch { /* fall through */ }
    return { gen, seq, owner: { pid: 0, id: 'unreadable' }, at: 0 };
  }
}
