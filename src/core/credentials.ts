// The secret record: versioned so a later release can migrate it; parsing never throws raw errors.
import type { Account, TokenSet } from './types.ts';
import { TokenRelayError } from './errors.ts';

export interface Credentials {
  v: 1;
  gen: number;
  account: Account;
  tokens: TokenSet;
}

export function serializeCredentials(c: Credentials): string {
  return JSON.stringify(c);
}

export function parseCredentials(raw: string): Credentials {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw corrupt('it is not valid JSON');
  }
  const c = value as Partial<Credentials>;
  if (!c || typeof c !== 'object') throw corrupt('it is not an object');
  if (c.v !== 1) throw corrupt(`layout version ${String(c.v)} is unknown`);
  if (typeof c.gen !== 'number' || !c.account || typeof c.account.id !== 'string') throw corrupt('the account is missing');
  const t = c.tokens as Partial<TokenSet> | undefined;
  if (!t || typeof t.accessToken !== 'string' || typeof t.expiresAt !== 'number') throw corrupt('the tokens are missing');
  return c as Credentials;
}

function corrupt(why: string): TokenRelayError {
  return new TokenRelayError('corrupt-secret', `The stored Token Relay credentials are unreadable: ${why}.`,
    'Sign in again; no other account or setting was changed.');
}
