import { createHash } from 'node:crypto';

/** A non-reversible tag for a token, safe to write to the journal and logs. */
export function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 22);
}
