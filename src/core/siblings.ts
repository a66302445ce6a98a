// The port through which sibling processes of this user reach each other. Its only use is handing
// the seal key K to a window whose secret view lacks it; everything else travels through the
// sealed store and the watched slot directory. src/ipc implements it over unix sockets.
export interface SiblingChannel {
  /** Starts answering key requests; registers this process in `peersDir` for siblings to find. */
  listen(peersDir: string, answerKey: (keyId: string) => Buffer | undefined): Promise<void>;
  /**
   * Asks the registered live siblings in `peersDir` for K by its id, one after another within a
   * bound, until one answers bytes `accept` takes (K matching the id): a sibling answering a wrong K
   * is passed over, never the end of the search.
   */
  askKey(peersDir: string, keyId: string, accept: (key: Buffer) => boolean): Promise<Buffer | undefined>;
  close(): Promise<void>;
}
