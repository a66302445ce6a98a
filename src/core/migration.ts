// Upgrades a session stored in the previous layout (v1: credentials in SecretStorage, a non-secret
// journal beside them) into the sealed store, without sign-in. Runs under the lock. The v1 spend
// claim of the migrated generation is taken first, so a window still running the old code cannot
// present that refresh token, and a v1 record then tells such windows to reload.
import type { Logger } from './types.ts';
import type { SealKey } from './seal.ts';
import type { ActiveGeneration, SealedStore, Writer } from './sealedStore.ts';
import type { Problem } from './accountState.ts';
import { createExclusive } from './durableFile.ts';
import { legacyName, legacySession, legacySpendName } from './legacy.ts';

export type Migrated = { generation: ActiveGeneration } | { problem: Problem } | undefined;

export async function migrateLegacy(store: SealedStore, rawView: string, keyForWriting: () => Promise<SealKey>, me: Writer, now: number, log: Logger): Promise<Migrated> {
  const session = legacySession(store.dir, rawView);
  if (!session) return undefined;
  if ('corrupt' in session) return { problem: { code: 'corrupt-secret', message: session.corrupt.message } };
  const { credentials, journalGen } = session;
  if (!createExclusive(store.dir, store.tempDir, legacySpendName(journalGen), JSON.stringify({ gen: journalGen, owner: me, at: now }))) {
    return { problem: { code: 'stale-view', message: 'A window running an older Token Relay is refreshing this sign-in. Reload every VS Code window; Token Relay then upgrades it by itself.' } };
  }
  const generation: ActiveGeneration = { gen: journalGen + 1, state: 'active', account: credentials.account, tokens: credentials.tokens, writer: me, at: now };
  const key = await keyForWriting();
  if (!store.write(generation, key)) return undefined;
  const notice = { v: 1, gen: journalGen + 1, state: 'needs-sign-in', reason: 'Token Relay was updated in another window: reload this window', writer: me, at: now };
  try {
    createExclusive(store.dir, store.tempDir, legacyName(journalGen + 1), JSON.stringify(notice));
  } catch { /* old windows then wait on the claim instead */ }
  log.info(`Upgraded the stored sign-in of ${credentials.account.label} to the sealed store (generation ${generation.gen})`);
  return { generation };
}
