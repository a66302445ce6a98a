// The storage model behind @node-oauth/oauth2-server: in memory, one public client, and refresh
// tokens in families. Every authorization starts a family; each refresh rotates within it; a spent
// refresh token presented again revokes the WHOLE family (every access and refresh token of that
// grant), as RFC 9700 §4.14.2 asks of a server that rotates.
import { randomBytes } from 'node:crypto';
import { InvalidGrantError } from '@node-oauth/oauth2-server';
import type { AuthorizationCode, AuthorizationCodeModel, Client, RefreshToken, RefreshTokenModel, Token, User } from '@node-oauth/oauth2-server';

export interface Family {
  readonly id: string;
  readonly user: string;
  revoked: boolean;
}

/** The user object the library carries from the code to every token: it names the family. */
export interface FamilyUser extends User {
  id: string;
  family: string;
}

interface StoredToken {
  token: string;
  kind: 'access' | 'refresh';
  expiresAt: number;
  scope: string[];
  clientId: string;
  user: FamilyUser;
  spent?: boolean;
}

export interface ModelEvents {
  /** A spent refresh token came back: its family is revoked. */
  reuse(family: Family): void;
  familyRevoked(family: Family, why: string): void;
}

const opaque = () => randomBytes(32).toString('base64url');

export class PlainModel implements AuthorizationCodeModel, RefreshTokenModel {
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly tokens = new Map<string, StoredToken>();
  private readonly families = new Map<string, Family>();

  constructor(private readonly client: Client, private readonly events: ModelEvents) {}

  async getClient(clientId: string): Promise<Client | null> {
    return clientId === this.client.id ? this.client : null;
  }

  /** RFC 8252 §7.3: a loopback redirect matches on any port. */
  async validateRedirectUri(redirectUri: string, client: Client): Promise<boolean> {
    const url = new URL(redirectUri);
    return [client.redirectUris].flat().some((allowed) => {
      const want = new URL(String(allowed));
      return url.protocol === want.protocol && url.hostname === want.hostname && url.pathname === want.pathname && !url.search;
    });
  }

  /** Any scope string is accepted as asked (a plain server that does not know `openid`). */
  async validateScope(_user: User, _client: Client, scope?: string[]): Promise<string[]> {
    return scope ?? [];
  }

  async generateAccessToken(): Promise<string> { return opaque(); }
  async generateRefreshToken(): Promise<string> { return opaque(); }
  async generateAuthorizationCode(): Promise<string> { return opaque(); }

  async saveAuthorizationCode(code: Pick<AuthorizationCode, 'authorizationCode' | 'expiresAt' | 'redirectUri' | 'scope' | 'codeChallenge' | 'codeChallengeMethod'>, client: Client, user: User): Promise<AuthorizationCode> {
    const family: Family = { id: opaque(), user: String(user.id), revoked: false };
    this.families.set(family.id, family);
    const saved: AuthorizationCode = { ...code, client, user: { id: family.user, family: family.id } satisfies FamilyUser };
    this.codes.set(code.authorizationCode, saved);
    return saved;
  }

  async getAuthorizationCode(code: string): Promise<AuthorizationCode | null> {
    return this.codes.get(code) ?? null;
  }

  async revokeAuthorizationCode(code: AuthorizationCode): Promise<boolean> {
    return this.codes.delete(code.authorizationCode);
  }

  async saveToken(token: Token, client: Client, user: User): Promise<Token> {
    const owner = user as FamilyUser;
    const keep = (value: string, kind: StoredToken['kind'], expiresAt?: Date) => this.tokens.set(value, {
      token: value, kind, expiresAt: expiresAt?.getTime() ?? Infinity, scope: token.scope ?? [], clientId: client.id, user: owner,
    });
    keep(token.accessToken, 'access', token.accessTokenExpiresAt);
    if (token.refreshToken) keep(token.refreshToken, 'refresh', token.refreshTokenExpiresAt);
    return { ...token, client, user };
  }

  async getAccessToken(accessToken: string): Promise<Token | null> {
    const stored = this.live(accessToken, 'access');
    return stored ? { accessToken, accessTokenExpiresAt: new Date(stored.expiresAt), scope: stored.scope, client: this.client, user: stored.user } : null;
  }

  async getRefreshToken(refreshToken: string): Promise<RefreshToken | null> {
    const stored = this.tokens.get(refreshToken);
    if (!stored || stored.kind !== 'refresh') return null;
    if (stored.spent) {
      this.reuse(stored);
      throw new InvalidGrantError('Invalid grant: refresh token already used; its grant is revoked');
    }
    if (!this.live(refreshToken, 'refresh')) return null;
    return { refreshToken, refreshTokenExpiresAt: new Date(stored.expiresAt), scope: stored.scope, client: this.client, user: stored.user };
  }

  /** Rotation: the first presentation spends the token; a second one (even a concurrent one) is a reuse. */
  async revokeToken(token: RefreshToken | Token): Promise<boolean> {
    const stored = token.refreshToken ? this.tokens.get(token.refreshToken) : undefined;
    if (!stored) return false;
    if (stored.spent) {
      this.reuse(stored);
      throw new InvalidGrantError('Invalid grant: refresh token already used; its grant is revoked');
    }
    stored.spent = true;
    return true;
  }

  /** A token that exists, is unexpired and whose family stands; spent refresh tokens are not live. */
  live(value: string, kind?: StoredToken['kind']): StoredToken | undefined {
    const stored = this.tokens.get(value);
    if (!stored || (kind && stored.kind !== kind) || stored.spent || stored.expiresAt <= Date.now()) return undefined;
    return this.families.get(stored.user.family)?.revoked === false ? stored : undefined;
  }

  /** RFC 7009: a refresh token revokes its grant (family); an access token only itself. */
  revoke(value: string, clientId: string): boolean {
    const stored = this.tokens.get(value);
    if (!stored || stored.clientId !== clientId) return false;
    if (stored.kind === 'access') return this.tokens.delete(value);
    return this.revokeFamily(stored.user.family, 'revocation request');
  }

  /** Only the access token itself (a test's early revocation); its family stays. */
  dropAccessToken(value: string): boolean {
    return this.tokens.get(value)?.kind === 'access' && this.tokens.delete(value);
  }

  private reuse(stored: StoredToken): void {
    const family = this.families.get(stored.user.family);
    if (!family || family.revoked) return;
    this.events.reuse(family);
    this.revokeFamily(family.id, 'refresh token reuse');
  }

  private revokeFamily(id: string, why: string): boolean {
    const family = this.families.get(id);
    if (!family || family.revoked) return false;
    family.revoked = true;
    for (const [value, stored] of this.tokens) if (stored.user.family === id) this.tokens.delete(value);
    this.events.familyRevoked(family, why);
    return true;
  }
}
