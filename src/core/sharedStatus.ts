// status.json: the offline back-off every window shares, so a failing identity provider is asked
// by one process at a time, not by each window on its own schedule. Non-secret.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceDurable } from './durableFile.ts';
import { TokenRelayError, TransientError, type ErrorCode } from './errors.ts';
import { redactor } from './redact.ts';
import type { Writer } from './sealedStore.ts';
import { ownedByThisUser } from './slotGuard.ts';

export interface SlotStatus {
  /** The generation whose refresh failed: once a newer one exists, the status is history. */
  gen?: number;
  offlineUntil?: number;
  failures?: number;
  lastError?: string;
  by?: Writer;
  /** Its spender is still waiting for the answer (after the soft timeout): followers report offline at once. */
  awaitingAnswer?: boolean;
  /**
   * The identity provider answered, but refused for a reason other than invalid_grant (a setting is
   * wrong): the token is unspent, the back-off is the same, and callers meanwhile get this error.
   */
  refusal?: { code: ErrorCode; message: string };
}

/** What a caller is told while the back-off runs: the refusal it is for, else "not reachable". */
export function backoffError(status: SlotStatus, fallback = 'recent failures; retrying later'): TokenRelayError {
  if (status.refusal) return new TokenRelayError(status.refusal.code, status.refusal.message);
  return new TransientError(status.lastError ?? fallback, true);
}

export class SharedStatus {
  /**
   * `owned`: whether a file is this user's (another user's back-off is never obeyed); `beforeWrite`:
   * the slot directory's check (SlotGuard.check), as before every other write.
   */
  constructor(private readonly dir: string, private readonly tempDir: string, private readonly owned: (path: string) => boolean = ownedByThisUser,
    private readonly beforeWrite: () => void = () => undefined) {}

  /** The status if it concerns generation `gen`; a newer generation makes it history. */
  read(gen?: number): SlotStatus {
    let status: SlotStatus = {};
    if (!this.owned(join(this.dir, 'status.json'))) return status;
    try {
      status = JSON.parse(readFileSync(join(this.dir, 'status.json'), 'utf8')) ?? {};
    } catch { /* none yet, or unreadable: no back-off */ }
    return gen === undefined || status.gen === undefined || status.gen >= gen ? status : {};
  }

  write(status: SlotStatus): void {
    // lastError quotes the identity provider: it reaches disk only through the redactor.
    const safe = { ...status };
    if (status.lastError !== undefined) safe.lastError = redactor.redact(status.lastError);
    if (status.refusal) safe.refusal = { code: status.refusal.code, message: redactor.redact(status.refusal.message) };
    this.beforeWrite();
    replaceDurable(this.dir, this.tempDir, 'status.json', JSON.stringify(safe));
  }

  clear(): void {
    if (this.read().failures) this.write({});
  }
}
