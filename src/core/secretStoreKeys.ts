// VS Code's SecretStorage (through the core's SecretStore port) as one of K's key stores. Still
// written where an OS keyring exists, so windows keep working where none does; its view may lag
// between windows, which the keyring makes up for (siblings, waiting for the view).
import type { KeyStore } from './keyStore.ts';
import type { SecretStore } from './types.ts';

export function secretStoreKeys(secrets: SecretStore): KeyStore {
  return {
    kind: 'vscode',
    description: 'VS Code\'s secret storage',
    get: (name) => secrets.get(name),
    set: (name, value) => secrets.store(name, value),
    delete: (name) => secrets.delete(name),
  };
}

/** Outside VS Code there is no SecretStorage: nothing to read, and no v1 session to upgrade. */
export const noSecrets: SecretStore = {
  get: async () => undefined,
  store: async () => { throw new Error('no secret storage outside VS Code'); },
  delete: async () => undefined,
  onDidChange: () => ({ dispose: () => undefined }),
};
