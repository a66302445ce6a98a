// The client secret of a configuration (issuer + client id), kept in the key stores beside K, never
// in settings or the configuration file. Its entry name is a hash of the configuration, so the
// name says nothing about the issuer to whoever lists the keyring, and a changed issuer or client
// id finds no secret rather than another client's.
import { createHash } from 'node:crypto';
import type { KeyStore } from '../core/keyStore.ts';
import type { Logger } from '../core/types.ts';
import { TokenRelayError, describeError } from '../core/errors.ts';
import type { ConfigIdentity } from './slots.ts';

export function clientSecretName(identity: ConfigIdentity): string {
  const id = createHash('sha256').update(`${identity.issuer}\n${identity.clientId}`).digest('base64url').slice(0, 32);
  return `tokenrelay/v1/client-secret/${id}`;
}

/** The first store that has it; a store that cannot answer is skipped (logged), as a public client needs none. */
export async function readClientSecret(stores: readonly KeyStore[], identity: ConfigIdentity, log: Logger): Promise<string | undefined> {
  for (const store of stores) {
    try {
      const secret = await store.get(clientSecretName(identity));
      if (secret) return secret;
    } catch (err) {
      log.debug(`Could not look for a client secret in ${store.description}: ${describeError(err)}`);
    }
  }
  return undefined;
}

/**
 * Stores (or, with undefined, removes) the secret in every store, so each host finds it whichever
 * store it reads first; at least one must take it. Returns where it is kept, for the user.
 */
export async function writeClientSecret(stores: readonly KeyStore[], identity: ConfigIdentity, secret: string | undefined, log: Logger): Promise<string> {
  if (!stores.length) throw new TokenRelayError('key-store', 'There is no key store to keep the client secret in.', 'Set tokenrelay.keyStore (or TOKENRELAY_KEY_STORE) to a store this machine has.');
  const name = clientSecretName(identity);
  const done: string[] = [];
  const problems: string[] = [];
  for (const store of stores) {
    try {
      await (secret === undefined ? store.delete(name) : store.set(name, secret));
      done.push(store.description);
    } catch (err) {
      problems.push(describeError(err));
      log.warn(`Could not ${secret === undefined ? 'remove' : 'store'} the client secret in ${store.description}: ${describeError(err)}`);
    }
  }
  if (!done.length) throw new TokenRelayError('key-store', `The client secret could not be ${secret === undefined ? 'removed' : 'stored'}: ${problems.join(' ')}`);
  return done.join(', ');
}

/** A client secret is one line of printable text; anything else is a paste gone wrong. */
export function checkClientSecret(raw: string): string {
  const secret = raw.replace(/\r?\n$/, '');
  if (!secret) throw new TokenRelayError('config', 'The client secret is empty.', 'Paste the client secret your identity provider shows for this client.');
  if (/[\x00-\x1f\x7f]/.test(secret)) throw new TokenRelayError('config', 'The client secret contains a line break or a control character.', 'Paste only the secret itself, on one line.');
  if (secret.length > 4096) throw new TokenRelayError('config', 'The client secret is longer than 4096 characters.', 'Paste only the secret itself.');
  return secret;
}
