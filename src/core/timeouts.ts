// Every bounded wait of the core, named in one place (ms). docs/faults.md refers to these.
export const TIMEOUTS = {
  /** How long a caller waits for the lock or for a live spender's result (P4). */
  lockWait: 30_000,
  /** A lock whose heartbeat stopped this long ago belongs to a dead or frozen holder. */
  lockStale: 2_000,
  /** Between stale-lock checks while waiting (journal events wake waiters at once). */
  staleCheck: 250,
  /** Callers stop waiting for the identity provider after this; the request keeps its claim. */
  refreshSoft: 15_000,
  /** The request itself is abandoned after this; its claim then counts as presented. */
  refreshHard: 120_000,
  /** How long a window whose secret view lacks K waits for it to catch up. */
  keyCatchUp: 2_000,
  /** Between attempts to persist a generation while the slot directory is not writable (P5). */
  persistRetryBase: 500,
  persistRetryCap: 5_000,
  /**
   * A host leaving on its own (the one-shot CLI) that holds the only copy of a generation, with no
   * sibling to hand it to, retries its write this long before saying the session is lost.
   */
  exitPersistWait: 3_000,
  /** A missed watch event is covered by re-reading the store at least this often. */
  storeRecheck: 1_000,
  /** Deactivation waits this long for queued secret-store writes. */
  disposeStoreWait: 3_000,
  /** A revocation at sign-out is given this long. */
  revoke: 5_000,
  /**
   * A token issued to replace a rejected one and rejected again within this long means the server
   * rejects freshly issued tokens (audience, resource, scopes): reported, not refreshed again.
   */
  rejectedFresh: 10_000,
} as const;
