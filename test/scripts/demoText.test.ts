// What `npm start` tells a newcomer, checked against what the code does, and the environment it
// gives code-server (and so every demo terminal): nothing `npm start` added.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import { banner, remoteNote, withoutNpmEnv, workspaceReadme } from '../../scripts/demoText.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const facts = { url: 'http://127.0.0.1:8080', issuer: 'http://[::1]:4000', apiUrl: 'http://[::1]:4000/api/me', ttl: 30, skew: 7, logFile: '/tmp/x/code-server.log' };

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('demo banner and workspace README', () => {
  test('the Accounts menu is offered from the start, not "once an extension asks for a session"', () => {
    // The extension places the session request itself while nobody is signed in.
    assert.match(readFileSync(join(repo, 'src', 'vscode', 'extension.ts'), 'utf8'), /getSession\(PROVIDER_ID, scopes, \{ createIfNone: false \}\)/);
    for (const text of [banner(facts), workspaceReadme(facts)]) {
      assert.doesNotMatch(text, /once an extension asks/);
      assert.match(text.replace(/\s*│?\s*\n\s*│?\s*/g, ' '), /Accounts menu .* choose "Sign in with Token Relay"/);
      assert.match(text, /"another process \(pid N\)"/);
    }
    const b = banner(facts);
    assert.match(b, /Open: +http:\/\/127\.0\.0\.1:8080\//, 'the line the demo test and newcomers look for');
    assert.match(b, /refreshes 7 s before expiry/);
  });

  test('a newcomer is never shown a whole token, and the demo turns off port auto-forwarding', () => {
    const commands = workspaceReadme(facts).split('\n').filter((l) => /^\s+tokenrelay token\b/.test(l));
    assert.ok(commands.length > 0, 'the README shows tokenrelay token');
    for (const line of commands) assert.match(line, /\| head -c \d+/, `prints only the start of the token: ${line.trim()}`);
    assert.match(readFileSync(join(repo, 'scripts', 'demo.ts'), 'utf8'), /'remote\.autoForwardPorts': false/);
  });

  test('a remote HOST: the note says the IdP listens on [::1], as demo.ts starts it', () => {
    assert.match(readFileSync(join(repo, 'scripts', 'demo.ts'), 'utf8'), /startIdp\(\{\s*host: '::1'/);
    const note = remoteNote('0.0.0.0')!;
    assert.match(note, /HOST=0\.0\.0\.0/);
    assert.match(note, /IdP listens on \[::1\]/);
    assert.doesNotMatch(note, /listens on 127\.0\.0\.1/);
    assert.equal(remoteNote('127.0.0.1'), undefined);
    assert.equal(remoteNote('localhost'), undefined);
  });
});

describe('demo environment', () => {
  test('withoutNpmEnv removes exactly what `npm run` added, from a real npm run', () => {
    dir = mkdtempSync(join(tmpdir(), 'tokenrelay-npmenv-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'probe', version: '1.0.0', bin: { tokenrelay: './x.js' }, scripts: { dump: 'node -e "process.stdout.write(JSON.stringify(process.env))"' } }));
    // The shell this test runs in, without npm's variables if the test runner itself came from npm.
    const outside = withoutNpmEnv(process.env);
    const underNpm = JSON.parse(execFileSync('npm', ['run', '--silent', 'dump'], { cwd: dir, env: outside, encoding: 'utf8' })) as NodeJS.ProcessEnv;
    assert.ok(underNpm.npm_package_bin_tokenrelay && underNpm.INIT_CWD && underNpm.npm_config_cache, 'npm adds its variables');
    const clean = withoutNpmEnv(underNpm);
    assert.deepEqual(Object.keys(clean).filter((k) => /^npm_/i.test(k) || k === 'INIT_CWD'), []);
    assert.ok(!clean.PATH!.split(delimiter).some((p) => /node_modules\/\.bin|node-gyp-bin/.test(p)), `PATH keeps no npm directories: ${clean.PATH}`);
    assert.equal(clean.PATH, outside.PATH);
    const added = Object.keys(clean).filter((k) => !(k in outside) && k !== '_');
    assert.ok(added.every((k) => k === 'EDITOR'), `only npm's harmless EDITOR default may remain: ${added.join(', ')}`);
  });

  test('outside npm, the environment is left alone', () => {
    const env = { PATH: `/repo/node_modules/.bin${delimiter}/usr/bin`, NODE: '/usr/bin/node', HOME: '/root' };
    assert.deepEqual(withoutNpmEnv(env), env);
  });

  test('demo.ts drops npm\'s environment before it starts code-server', () => {
    const demo = readFileSync(join(repo, 'scripts', 'demo.ts'), 'utf8');
    const dropped = demo.indexOf('dropNpmEnv();');
    assert.ok(dropped > 0 && dropped < demo.indexOf('startCodeServer({'), 'dropNpmEnv() runs before startCodeServer');
  });
});
