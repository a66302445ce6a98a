// What tools without coordination do: read the store, refresh when expired, write back.
import type { Clock, SecretStore } from '../../src/core/types.ts';
import type { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { parseCredentials, serializeCredentials, type Credentials } from '../../src/core/credentials.ts';
import { TokenRelayError } from '../../src/core/errors.ts';

export class NaiveClient {
  private flight: Promise<Credentials> | undefined;

  constructor(private readonly store: SecretStore, private readonly client: OAuthClient, private readonly key: string, private readonly clock: Clock) {}

  async getToken(): Promise<{ accessToken: string; generation: number }> {
    const raw = await this.store.get(this.key);
    if (!raw) throw new TokenRelayError('not-signed-in', 'not signed in');
    let creds = parseCredentials(raw);
    if (creds.tokens.expiresAt <= this.clock.now()) {
      // In-process single flight only, as most tools have.
      this.flight ??= this.refresh(creds).finally(() => { this.flight = undefined; });
      creds = await this.flight;
    }
    return { accessToken: creds.tokens.accessToken, generation: creds.gen };
  }

  private async refresh(creds: Credentials): Promise<Credentials> {
    const tokens = await this.client.refresh(creds.tokens.refreshToken!, AbortSignal.timeout(15_000));
    const next: Credentials = { ...creds, gen: creds.gen + 1, tokens: { ...tokens, refreshToken: tokens.refreshToken ?? creds.tokens.refreshToken } };
    await this.store.store(this.key, serializeCredentials(next));
    return next;
  }
}
