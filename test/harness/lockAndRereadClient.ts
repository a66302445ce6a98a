// What other tools ship: a lock file around "re-read the one shared credential file, refresh if
// expired, write it back". Callers in one process share one flight and its in-memory copy.
import { promises as fs } from 'node:fs';
import lockfile from 'proper-lockfile';
import type { Clock } from '../../src/core/types.ts';
import type { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { parseCredentials, serializeCredentials, type Credentials } from '../../src/core/credentials.ts';

/**
 * Waiters poll the lock: 5 ms first, ×1.5 per attempt (randomized ×1–2), capped at 100 ms, 60
 * attempts (about 5.5 s, longer than a slow refresh). Stale after 2 s, as the broker's lock.
 */
export const LOCK_OPTIONS = {
  retries: { retries: 60, minTimeout: 5, factor: 1.5, maxTimeout: 100, randomize: true },
  stale: 2000,
  realpath: false,
};

export class LockAndRereadClient {
  private creds: Credentials | undefined;
  private flight: Promise<Credentials> | undefined;

  constructor(private readonly file: string, private readonly client: OAuthClient, private readonly clock: Clock, private readonly onResponse: () => void) {}

  async getToken(): Promise<{ accessToken: string; generation: number }> {
    let creds = this.creds;
    if (!creds || creds.tokens.expiresAt <= this.clock.now()) {
      this.flight ??= this.underLock().finally(() => { this.flight = undefined; });
      creds = await this.flight;
    }
    return { accessToken: creds.tokens.accessToken, generation: creds.gen };
  }

  status(): { expiresAt?: number } {
    return { expiresAt: this.creds?.tokens.expiresAt };
  }

  private async underLock(): Promise<Credentials> {
    // A compromised lock is not this baseline's concern; proper-lockfile's default would throw from a timer.
    const release = await lockfile.lock(this.file, { ...LOCK_OPTIONS, onCompromised: () => {} });
    try {
      let creds = parseCredentials(await fs.readFile(this.file, 'utf8'));
      if (creds.tokens.expiresAt <= this.clock.now()) {
        const tokens = await this.client.refresh(creds.tokens.refreshToken!, AbortSignal.timeout(15_000));
        this.onResponse();
        creds = { ...creds, gen: creds.gen + 1, tokens: { ...tokens, refreshToken: tokens.refreshToken ?? creds.tokens.refreshToken } };
        const temp = `${this.file}.${process.pid}.tmp`;
        await fs.writeFile(temp, serializeCredentials(creds), { mode: 0o600 });
        await fs.rename(temp, this.file);
      }
      return (this.creds = creds);
    } finally {
      await release().catch(() => {});
    }
  }
}
