// Access tokens for several APIs (RFC 8707 resource indicators) from one grant. A generation's
// `tokens` is the configured audience's (no resource asked); `audiences` holds the others, keyed by
// resource URI. Every audience is refreshed through the grant's one refresh token, so each refresh
// writes a new generation that carries the other audiences' still-usable access tokens forward.
import type { TokenSet } from './types.ts';

/** An audience's access token: a TokenSet without the grant's refresh or id token. */
export type AudienceToken = Omit<TokenSet, 'refreshToken' | 'idToken'>;

/** What a generation holds, for tokenFor and carryForward. */
export interface AudienceHolder {
  tokens: TokenSet;
  audiences?: Record<string, AudienceToken>;
}

/** Longest resource URI accepted anywhere (settings, terminal protocol, CLI). */
export const MAX_RESOURCE_CHARS = 2048;

/** The access token a generation holds for `resource` (undefined: the configured audience). */
export function tokenFor(g: AudienceHolder, resource: string | undefined): AudienceToken | undefined {
  if (resource === undefined) return g.tokens;
  const t = g.audiences?.[resource];
  return t && isAudienceToken(t) ? t : undefined;
}

/**
 * The audiences of the generation after `g`, refreshed for `resource` with `fresh`: the others are
 * kept while still usable (expired ones are dropped), the refreshed one replaced.
 */
export function carryForward(g: AudienceHolder, now: number, resource?: string, fresh?: AudienceToken): Record<string, AudienceToken> | undefined {
  const kept: Record<string, AudienceToken> = {};
  for (const [uri, t] of Object.entries(g.audiences ?? {})) {
    if (uri !== resource && isAudienceToken(t) && t.expiresAt > now) kept[uri] = t;
  }
  if (resource !== undefined && fresh) kept[resource] = audienceToken(fresh);
  return Object.keys(kept).length ? kept : undefined;
}

/** Only the access-token fields: a refresh or id token never lands in the audiences map. */
export function audienceToken(t: AudienceToken): AudienceToken {
  const { accessToken, tokenType, scope, expiresAt, obtainedAt, roundTripMs } = t;
  return { accessToken, tokenType, expiresAt, obtainedAt, ...(scope !== undefined ? { scope } : {}), ...(roundTripMs !== undefined ? { roundTripMs } : {}) };
}

/** An authenticated record's entry is still checked for shape: a malformed one counts as missing. */
function isAudienceToken(t: unknown): t is AudienceToken {
  const v = t as AudienceToken;
  return !!v && typeof v === 'object' && typeof v.accessToken === 'string' && v.accessToken.length > 0
    && typeof v.expiresAt === 'number' && typeof v.obtainedAt === 'number' && typeof v.tokenType === 'string';
}

/** A resource indicator as RFC 8707 §2 wants it: an absolute URI without a fragment; else why not. */
export function resourceProblem(value: string): string | undefined {
  if (value.length === 0 || value.length > MAX_RESOURCE_CHARS) return `must be an absolute URI of at most ${MAX_RESOURCE_CHARS} characters`;
  if (/\s/.test(value)) return 'must not contain spaces';
  let url: URL | undefined;
  try { url = new URL(value); } catch { url = undefined; } // URL.parse is newer than VS Code 1.100's Node
  if (!url || !/^[a-z][a-z0-9+.-]*:$/i.test(url.protocol)) return 'must be an absolute URI such as https://api.example.com';
  if (value.includes('#')) return 'must not contain a fragment (#…)';
  return undefined;
}
