// The opt-in key file store: round trip, modes, refusals and a corrupt file reported and kept.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKeyStore, keyFileName } from '../../src/keystore/fileKeyStore.ts';
import { isTokenRelayError } from '../../src/core/errors.ts';
import { rejectsWith as rejectsWithSecret } from './support.ts';

const K = 'k-0123456789abcdef"\\ ü';
const posix = process.platform !== 'win32';

const rejectsWith = (p: Promise<unknown>, message: RegExp, fix: RegExp) => rejectsWithSecret(p, message, fix, K);

describe('file key store', () => {
  let root: string;
  let dir: string;
  let store: FileKeyStore;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tokenrelay-filekeys-'));
    dir = join(root, 'state', 'keys');
    store = new FileKeyStore(dir);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('describes itself as a key file not protected by the OS, with its path', () => {
    assert.equal(store.kind, 'file');
    assert.equal(store.description, `a key file, not protected by the OS (${dir})`);
  });

  test('round trip: missing, set, overwrite, a second entry, delete (twice)', async () => {
    assert.equal(await store.get('tokenrelay/v2/s/key'), undefined, 'no directory yet: nothing stored');
    await store.set('tokenrelay/v2/s/key', K);
    assert.equal(await store.get('tokenrelay/v2/s/key'), K);
    await store.set('tokenrelay/v2/s/key/mark', '{"gen":2}');
    await store.set('tokenrelay/v2/s/key', `${K}2\n`);
    assert.equal(await store.get('tokenrelay/v2/s/key'), `${K}2\n`);
    assert.equal(await store.get('tokenrelay/v2/s/key/mark'), '{"gen":2}');
    await store.delete('tokenrelay/v2/s/key');
    await store.delete('tokenrelay/v2/s/key');
    assert.equal(await store.get('tokenrelay/v2/s/key'), undefined);
    assert.deepEqual(readdirSync(dir), [keyFileName('tokenrelay/v2/s/key/mark')], 'no temp files left behind');
  });

  test('the directory is 0700 and each file 0600, even under a loose umask', { skip: !posix }, async () => {
    const old = process.umask(0o002);
    try {
      await store.set('n', K);
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, keyFileName('n'))).mode & 0o777, 0o600);
  });

  test('a group- or other-readable file is refused, not read', { skip: !posix }, async () => {
    await store.set('n', K);
    chmodSync(join(dir, keyFileName('n')), 0o644);
    await rejectsWith(store.get('n'), /refuses the key file .*readable or writable by others \(mode 644\)/, /Remove it/);
  });

  // Giving a file away needs root; as any other user this case cannot be produced.
  test('a file owned by another user is refused', { skip: !posix || process.getuid?.() !== 0 ? 'needs root to chown' : false }, async () => {
    await store.set('n', K);
    chownSync(join(dir, keyFileName('n')), 65534, 65534);
    await rejectsWith(store.get('n'), /refuses the key file .*belongs to another user \(uid 65534\)/, /Remove it/);
  });

  test('a symlink in place of the file is refused, not followed', { skip: !posix }, async () => {
    await store.set('n', K);
    const elsewhere = join(root, 'planted.key');
    writeFileSync(elsewhere, readFileSync(join(dir, keyFileName('n'))), { mode: 0o600 });
    rmSync(join(dir, keyFileName('n')));
    symlinkSync(elsewhere, join(dir, keyFileName('n')));
    await rejectsWith(store.get('n'), /refuses the key file .*is a symlink/, /Remove it/);
  });

  test('a key directory that is a symlink is refused', { skip: !posix }, async () => {
    const real = join(root, 'real');
    mkdirSync(real, { mode: 0o700 });
    mkdirSync(join(root, 'state'), { mode: 0o700 });
    symlinkSync(real, dir);
    await rejectsWith(store.set('n', K), /key directory .*not a plain directory/, /Remove it/);
    await rejectsWith(store.get('n'), /key directory .*not a plain directory/, /Remove it/);
  });

  test('a corrupt file is reported and left in place', async () => {
    await store.set('n', K);
    const path = join(dir, keyFileName('n'));
    writeFileSync(path, '{"v":1,"name":"n","val', { mode: 0o600 });
    await rejectsWith(store.get('n'), /is corrupt \(it is not JSON\); Token Relay left it in place/, /Move it aside/);
    assert.equal(readFileSync(path, 'utf8'), '{"v":1,"name":"n","val', 'the corrupt file is kept as it was');
    // A file copied from another entry's name is caught too.
    writeFileSync(path, JSON.stringify({ v: 1, name: 'other', value: K }), { mode: 0o600 });
    await rejectsWith(store.get('n'), /is corrupt \(it names another entry\)/, /Move it aside/);
  });
});
