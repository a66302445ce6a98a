// The port through which sibling processes of this user reach each other. It hands the seal key K
// to a window whose secret view lacks it, and hands a generation that only one exiting process
// holds (its slot directory refused the write) to a live one, sealed under K; everything else
// travels through the sealed store and the watched slot directory. src/ipc implements it over unix sockets.

/** Takes a sealed record another process hands over; true once this process holds it (authenticated under K). */
export type AdoptRecord = (record: string) => Promise<boolean>;

/** The sealed record of the generation this process holds, when it is newer than `gen`; else undefined. */
export type HeldAfter = (gen: number) => string | undefined;

export interface SiblingChannel {
  /**
   * Starts answering key requests (and hand-overs, with `adopt`; requests for a generation newer
   * than one the asker has, with `heldAfter`); registers this process in `peersDir` for siblings to find.
   */
  listen(peersDir: string, answerKey: (keyId: string) => Buffer | undefined, adopt?: AdoptRecord, heldAfter?: HeldAfter): Promise<void>;
  /**
   * Hands a sealed record to the registered live siblings in `peersDir`, one after another within a
   * bound, until one adopts it; that sibling's pid, or undefined when none did.
   */
  handOver(peersDir: string, record: string): Promise<number | undefined>;
  /**
   * Asks the registered live siblings in `peersDir` for K by its id, one after another within a
   * bound, until one answers bytes `accept` takes (K matching the id): a sibling answering a wrong K
   * is passed over, never the end of the search.
   */
  askKey(peersDir: string, keyId: string, accept: (key: Buffer) => boolean): Promise<Buffer | undefined>;
  /**
   * Asks the registered live siblings in `peersDir`, within a bound, for a generation newer than
   * `gen` (one handed over to them, not yet written), until `accept` takes one (authenticated under
   * K); the pid of the sibling it came from, or undefined.
   */
  askNewer?(peersDir: string, gen: number, accept: AdoptRecord): Promise<number | undefined>;
  close(): Promise<void>;
}
