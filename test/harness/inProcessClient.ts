// The physical limit of a storm: every caller in one process behind one shared promise per
// expiry, wrapping one refresh against the IdP. No files, no locks, no other processes.
import { readFileSync } from 'node:fs';
import type { Clock } from '../../src/core/types.ts';
import type { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { parseCredentials, type Credentials } from '../../src/core/credentials.ts';

export class InProcessClient {
  private creds: Credentials;
  private flight: Promise<Credentials> | undefined;

  constructor(file: string, private readonly client: OAuthClient, private readonly clock: Clock, private readonly onResponse: () => void) {
    this.creds = parseCredentials(readFileSync(file, 'utf8')); // read once, before any storm
  }

  async getToken(): Promise<{ accessToken: string; generation: number }> {
    if (this.creds.tokens.expiresAt <= this.clock.now()) {
      this.flight ??= this.refresh().finally(() => { this.flight = undefined; });
      await this.flight;
    }
    return { accessToken: this.creds.tokens.accessToken, generation: this.creds.gen };
  }

  status(): { expiresAt?: number } {
    return { expiresAt: this.creds.tokens.expiresAt };
  }

  private async refresh(): Promise<Credentials> {
    const tokens = await this.client.refresh(this.creds.tokens.refreshToken!, AbortSignal.timeout(15_000));
    this.onResponse();
    return (this.creds = { ...this.creds, gen: this.creds.gen + 1, tokens: { ...tokens, refreshToken: tokens.refreshToken ?? this.creds.tokens.refreshToken } });
  }
}
