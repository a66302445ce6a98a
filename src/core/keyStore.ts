// The KeyStore port: where the slot's seal key K is kept outside VS Code (the OS keyring, or an
// explicitly chosen key file). Adapters live in src/keystore/; the core sees only this shape.
import type { TokenRelayError } from './errors.ts';

export type KeyStoreKind = 'os-keyring' | 'vscode' | 'file';

export interface KeyStore {
  readonly kind: KeyStoreKind;
  /** For status and errors, e.g. "the OS keyring (Secret Service)", "a key file, not protected by the OS (~/.local/state/tokenrelay/keys)". */
  readonly description: string;
  /** undefined when no entry exists. Throws a TokenRelayError (code 'key-store') naming the problem and the fix when the store cannot be used (locked, no daemon, no D-Bus, tool missing, timeout). Never logs or includes the secret in errors. */
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<void>;
}

