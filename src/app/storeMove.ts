// Moves sessions from the store each VS Code flavour used to keep under its globalStorage
// (`<globalStorage>/slots`) into the per-user store (storeRoot.ts), without sign-in and exactly
// once, even while windows of the old version still run: Broker.moveTo claims the old generation
// before the move, so nobody on the old directory can present it, and leaves a record there that
// tells old windows to reload. A slot the per-user store already has is never moved over it.
import type { Account, Logger } from '../core/types.ts';
import type { Broker } from '../core/broker.ts';
import { describeError } from '../core/errors.ts';
import { peekSlotState } from '../core/sealedStore.ts';
import { listMetas, readMeta, sameIdentity, slotDirOf, writeMeta, type ConfigIdentity } from './slots.ts';

export interface StoreMove {
  from: string;
  to: string;
  identity: ConfigIdentity;
  /** A broker on a slot directory of `from`, disposed by the caller of moveLegacySlots. */
  openOld: (slotDir: string, slotKey: string, account: Account) => Promise<Broker>;
  log: Logger;
}

/** Returns how many sessions moved; one that cannot move now (a refresh in progress) moves on a later start. */
export async function moveLegacySlots(move: StoreMove): Promise<number> {
  let moved = 0;
  for (const meta of await listMetas(move.from)) {
    if (!sameIdentity(meta, move.identity) || await readMeta(move.to, meta.slotKey)) continue;
    const oldDir = slotDirOf(move.from, meta.slotKey);
    if (peekSlotState(oldDir) !== 'active') continue;
    let broker: Broker | undefined;
    try {
      broker = await move.openOld(oldDir, meta.slotKey, meta.account);
      const outcome = await broker.moveTo(slotDirOf(move.to, meta.slotKey),
        `Token Relay moved this sign-in to its per-user store (${move.to}), shared by every VS Code flavour and terminal: update Token Relay in this window, or reload it.`);
      if (outcome === 'moved') {
        await writeMeta(move.to, { ...meta, updatedAt: Date.now() });
        move.log.info(`Moved the session of ${meta.account.label} from ${move.from} to ${move.to} (no sign-in needed)`);
        moved++;
      } else if (outcome === 'busy') {
        move.log.info(`The session of ${meta.account.label} is being refreshed in ${move.from}; it moves on the next start`);
      }
    } catch (err) {
      move.log.warn(`Could not move the session of ${meta.account.label} from ${move.from}: ${describeError(err)}`);
    } finally {
      await broker?.dispose().catch(() => undefined);
    }
  }
  return moved;
}
