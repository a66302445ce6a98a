// Which key stores a host outside VS Code uses (CLI, agents): the platform's OS keyring, or the key
// file when the user opted in. 'auto' never falls back to the file by itself: a key readable by
// anyone who can read the disk is a choice the user makes, not one made for them when a keyring
// is missing (the keyring's error names the opt-in instead).
import type { KeyStore } from '../core/keyStore.ts';
import { TokenRelayError } from '../core/errors.ts';
import { SecretToolKeyStore } from './secretToolKeyStore.ts';
import { MacKeychainKeyStore } from './macKeychainKeyStore.ts';
import { WindowsDpapiKeyStore } from './windowsDpapiKeyStore.ts';
import { FileKeyStore } from './fileKeyStore.ts';

export const KEY_STORE_CHOICES = ['auto', 'os-keyring', 'file'] as const;
export type KeyStoreChoice = (typeof KEY_STORE_CHOICES)[number];
export const KEY_STORE_ENV = 'TOKENRELAY_KEY_STORE';

/** Where key files (and DPAPI blobs) live: the store root's `keys` directory. */
export interface KeyStoreLayout {
  keysDir: string;
}

/** A choice as written (setting or environment); unset or empty is 'auto'. */
export function parseKeyStoreChoice(raw: unknown, source = 'tokenrelay.keyStore'): KeyStoreChoice {
  if (raw === undefined || raw === null || raw === '') return 'auto';
  const value = typeof raw === 'string' ? raw.trim() : raw;
  if (typeof value === 'string' && (KEY_STORE_CHOICES as readonly string[]).includes(value)) return value as KeyStoreChoice;
  return badChoice(raw, source);
}

function badChoice(raw: unknown, source: string): never {
  throw new TokenRelayError('config', `${source} is ${JSON.stringify(raw)}, which is not a key store Token Relay knows.`,
    `Set it to one of ${KEY_STORE_CHOICES.join(', ')} (or leave it unset for auto: the OS keyring).`);
}

/** The environment variable wins over the setting: it is the per-process opt-in the errors name. */
export function keyStoreChoiceOf(setting: unknown, env: NodeJS.ProcessEnv): KeyStoreChoice {
  const fromEnv = env[KEY_STORE_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? parseKeyStoreChoice(fromEnv, KEY_STORE_ENV) : parseKeyStoreChoice(setting);
}

export interface KeyStoresFor {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  layout: KeyStoreLayout;
  choice: KeyStoreChoice;
}

/** The ordered stores for a host outside VS Code: exactly one, the OS keyring or the opted-in file. */
export function keyStoresFor(o: KeyStoresFor): KeyStore[] {
  if (o.choice === 'file') return [new FileKeyStore(o.layout.keysDir)];
  if (o.choice !== 'auto' && o.choice !== 'os-keyring') return badChoice(o.choice, 'the key store choice');
  return [osKeyring(o)];
}

function osKeyring(o: KeyStoresFor): KeyStore {
  switch (o.platform) {
    case 'darwin': return new MacKeychainKeyStore({ env: o.env });
    case 'win32': return new WindowsDpapiKeyStore({ dir: o.layout.keysDir, env: o.env });
    // Linux and the BSDs: the Secret Service (secret-tool names itself missing where it is).
    default: return new SecretToolKeyStore({ env: o.env });
  }
}
