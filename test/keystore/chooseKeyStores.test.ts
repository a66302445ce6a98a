// Which key stores a host outside VS Code gets: the platform's keyring, or the opted-in file; never
// a silent fallback to the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyStoreChoiceOf, keyStoresFor, parseKeyStoreChoice } from '../../src/keystore/chooseKeyStores.ts';
import { SecretToolKeyStore } from '../../src/keystore/secretToolKeyStore.ts';
import { MacKeychainKeyStore } from '../../src/keystore/macKeychainKeyStore.ts';
import { WindowsDpapiKeyStore } from '../../src/keystore/windowsDpapiKeyStore.ts';
import { FileKeyStore } from '../../src/keystore/fileKeyStore.ts';
import { isTokenRelayError } from '../../src/core/errors.ts';

const layout = { keysDir: '/home/u/.local/state/tokenrelay/keys' };

test('auto and os-keyring: the platform\'s keyring alone, never the key file', () => {
  for (const choice of ['auto', 'os-keyring'] as const) {
    const cases: [NodeJS.Platform, Function][] = [['linux', SecretToolKeyStore], ['freebsd', SecretToolKeyStore], ['darwin', MacKeychainKeyStore], ['win32', WindowsDpapiKeyStore]];
    for (const [platform, kind] of cases) {
      const stores = keyStoresFor({ platform, env: {}, layout, choice });
      assert.equal(stores.length, 1, `${platform} ${choice}`);
      assert.ok(stores[0] instanceof kind, `${platform} ${choice}: ${stores[0].description}`);
      assert.equal(stores[0].kind, 'os-keyring');
    }
  }
});

test('file: the key file alone, saying it is not protected by the OS', () => {
  const stores = keyStoresFor({ platform: 'linux', env: {}, layout, choice: 'file' });
  assert.equal(stores.length, 1);
  assert.ok(stores[0] instanceof FileKeyStore);
  assert.equal(stores[0].description, `a key file, not protected by the OS (${layout.keysDir})`);
});

test('the choice: unset is auto, the environment wins over the setting, an unknown value is a named error', () => {
  assert.equal(parseKeyStoreChoice(undefined), 'auto');
  assert.equal(parseKeyStoreChoice(''), 'auto');
  assert.equal(parseKeyStoreChoice(' file '), 'file');
  assert.equal(keyStoreChoiceOf('os-keyring', {}), 'os-keyring');
  assert.equal(keyStoreChoiceOf('os-keyring', { TOKENRELAY_KEY_STORE: 'file' }), 'file');
  assert.equal(keyStoreChoiceOf(undefined, { TOKENRELAY_KEY_STORE: '' }), 'auto');
  for (const [setting, env, source] of [['plaintext', {}, 'tokenrelay.keyStore'], [undefined, { TOKENRELAY_KEY_STORE: 'keyring' }, 'TOKENRELAY_KEY_STORE'], [3, {}, 'tokenrelay.keyStore']] as const) {
    assert.throws(() => keyStoreChoiceOf(setting, env), (err: unknown) => isTokenRelayError(err, 'config')
      && err.message.startsWith(`${source} is `) && /auto, os-keyring, file/.test(err.fix ?? ''));
  }
  assert.throws(() => keyStoresFor({ platform: 'linux', env: {}, layout, choice: 'vscode' as never }), (err: unknown) => isTokenRelayError(err, 'config'));
});
