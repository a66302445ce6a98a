// The store root is bad input like any other: a relative, file, symlink or foreign TOKENRELAY_HOME
// is refused with the variable and the fix named, before anything is written anywhere.
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStoreLayout, storeLayout } from '../../src/app/storeRoot.ts';
import { runCli } from '../cli/support.ts';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'tokenrelay-root-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const refuses = (env: NodeJS.ProcessEnv, message: RegExp, fix: RegExp) => assert.throws(() => openStoreLayout(env, 'linux'), (err: Error & { fix?: string }) => {
  assert.match(err.message, message);
  assert.match(`${err.message} ${err.fix ?? ''}`, fix);
  return true;
});

describe('the store root', () => {
  test('by rule: TOKENRELAY_HOME, else XDG_STATE_HOME when absolute, else ~/.local/state', () => {
    assert.equal(storeLayout({ TOKENRELAY_HOME: '/srv/tr', HOME: '/h' }, 'linux').root, '/srv/tr');
    assert.equal(storeLayout({ XDG_STATE_HOME: '/x', HOME: '/h' }, 'linux').root, '/x/tokenrelay');
    assert.equal(storeLayout({ XDG_STATE_HOME: 'relative', HOME: '/h' }, 'linux').root, '/h/.local/state/tokenrelay');
    assert.equal(storeLayout({ HOME: '/h' }, 'darwin').root, '/h/Library/Application Support/tokenrelay');
    assert.equal(storeLayout({ HOME: '/h', LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32').root, join('C:\\Users\\u\\AppData\\Local', 'tokenrelay'));
  });

  test('a relative TOKENRELAY_HOME is refused, naming the variable', () => {
    refuses({ TOKENRELAY_HOME: 'state' }, /TOKENRELAY_HOME must be an absolute path \(got "state"\)/, /absolute directory/);
  });

  test('TOKENRELAY_HOME pointing at a file: refused, naming the variable and the fix; the file is left as it was', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'mine');
    refuses({ TOKENRELAY_HOME: file }, /store .*a-file \(from TOKENRELAY_HOME\) is a file, not a directory/, /Point TOKENRELAY_HOME at a directory/);
    assert.equal(readFileSync(file, 'utf8'), 'mine');
  });

  test('a store root that is a symlink is refused; nothing is written where it points', () => {
    const target = join(dir, 'elsewhere');
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, join(dir, 'link'));
    refuses({ TOKENRELAY_HOME: join(dir, 'link') }, /TOKENRELAY_HOME: .*store directory .*link is not a plain directory \(a symlink/, /Remove it/);
    assert.deepEqual(readdirSync(target), []);
  });

  test('a store root of another user is refused; nothing is written in it', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, () => {
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    refuses({ TOKENRELAY_HOME: foreign }, /store directory .*foreign belongs to another user \(uid 65534\)/, /may have been planted/);
    assert.deepEqual(readdirSync(foreign), []);
  });

  test('the CLI with TOKENRELAY_HOME pointing at a file: a named error on stderr, no stack trace, the file unchanged', async () => {
    const file = join(dir, 'cli-file');
    writeFileSync(file, 'mine');
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ profiles: { default: { issuer: 'https://sso.example.com', clientId: 'cli' } } }));
    const r = await runCli(undefined, ['token'], { env: { TOKENRELAY_HOME: file, TOKENRELAY_CONFIG: config, TOKENRELAY_SOCK: undefined, XDG_RUNTIME_DIR: dir } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is a file, not a directory.*Point TOKENRELAY_HOME at a directory/s);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
    assert.equal(readFileSync(file, 'utf8'), 'mine');
  });
});
