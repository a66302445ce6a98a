// VS Code's SecretStorage as the core's SecretStore. The only place tokens are persisted.
// Its view may be stale between windows (see shared/docs/environment.md); the core's journal and
// peer sockets make up for that, so this adapter stays a plain translation.
import type * as vscode from 'vscode';
import type { Disposable, SecretStore } from '../core/types.ts';

export type SecretStorageLike = Pick<vscode.SecretStorage, 'get' | 'store' | 'delete' | 'onDidChange'>;

export function secretStoreFrom(secrets: SecretStorageLike): SecretStore {
  return {
    get: async (key) => secrets.get(key),
    store: async (key, value) => { await secrets.store(key, value); },
    delete: async (key) => { await secrets.delete(key); },
    onDidChange(listener: (key: string) => void): Disposable {
      return secrets.onDidChange((event) => listener(event.key));
    },
  };
}
