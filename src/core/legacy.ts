// Sessions stored by Token Relay before the sealed store (layout v1): credentials in SecretStorage,
// non-secret `g-<gen>.json` records in the slot directory. Read once, to upgrade without sign-in.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprint } from './fingerprint.ts';
import { parseCredentials, type Credentials } from './credentials.ts';
import type { TokenRelayError } from './errors.ts';

export interface LegacyRecord {
  v: 1;
  gen: number;
  state: 'active' | 'needs-sign-in' | 'signed-out';
  refreshFp?: string;
}

export type LegacySession = { credentials: Credentials; journalGen: number } | { corrupt: TokenRelayError } | undefined;

const isLegacyName = (n: string) => /^g-\d{12}\.json$/.test(n);
export const legacyName = (gen: number) => `g-${String(gen).padStart(12, '0')}.json`;
export const legacySpendName = (gen: number) => `spend-${gen}`;

export function latestLegacyRecord(dir: string): LegacyRecord | undefined {
  const names = readdirSync(dir).filter(isLegacyName).sort();
  for (let i = names.length - 1; i >= 0; i--) {
    try {
      const r = JSON.parse(readFileSync(join(dir, names[i]), 'utf8')) as LegacyRecord;
      if (r?.v === 1 && typeof r.gen === 'number') return r;
    } catch { /* skip unreadable */ }
  }
  return undefined;
}

/** The v1 session to upgrade: the view's credentials, when they are what the v1 journal says is current. */
export function legacySession(dir: string, rawView: string | undefined): LegacySession {
  if (!rawView) return undefined;
  let credentials: Credentials;
  try {
    credentials = parseCredentials(rawView);
  } catch (err) {
    return { corrupt: err as TokenRelayError };
  }
  const record = latestLegacyRecord(dir);
  if (!record) return { credentials, journalGen: credentials.gen }; // from before the v1 journal
  if (record.state !== 'active' || record.gen !== credentials.gen) return undefined;
  if (record.refreshFp && record.refreshFp !== fingerprint(credentials.tokens.refreshToken ?? '')) return undefined;
  return { credentials, journalGen: record.gen };
}
