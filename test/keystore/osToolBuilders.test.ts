// The macOS and Windows adapters' process invocations, checked without those systems: the secret
// is never in argv, stdin carries it, and tricky values survive the tool's own parsing. The DPAPI
// store's file handling runs against a stand-in powershell.exe (a Node script on PATH).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quoteForSecurity, securityInvocation } from '../../src/keystore/macKeychainKeyStore.ts';
import { WindowsDpapiKeyStore, dpapiInvocation, dpapiFileName, POWERSHELL_ARGS } from '../../src/keystore/windowsDpapiKeyStore.ts';
import { isTokenRelayError } from '../../src/core/errors.ts';

const TRICKY = ['plain', 'with space', 'dq"inside', "sq'inside", 'back\\slash', 'trailing\\', '"', '', '{"v":1,"k":"a\\"b"}', 'ü €'];

/** A port of split_line from Apple's SecurityTool/security.c: how `security -i` splits a line. */
function splitLikeSecurity(line: string): string[] {
  const args: string[] = [];
  let state: 'ws' | 'arg' | 'argEsc' | 'quoted' | 'quotedEsc' = 'ws';
  let quote = '';
  let cur = '';
  for (const ch of line) {
    if (state === 'ws') {
      if (/\s/.test(ch)) continue;
      if (ch === '"' || ch === "'") { quote = ch; state = 'quoted'; cur = ''; continue; }
      state = 'arg'; cur = '';
    }
    if (state === 'arg') {
      if (ch === '\\') { state = 'argEsc'; continue; }
      if (/\s/.test(ch)) { args.push(cur); state = 'ws'; } else cur += ch;
      continue;
    }
    if (state === 'quoted') {
      if (ch === '\\') { state = 'quotedEsc'; continue; }
      if (ch === quote) { args.push(cur); state = 'ws'; } else cur += ch;
      continue;
    }
    cur += ch;
    state = state === 'argEsc' ? 'arg' : 'quoted';
  }
  if (state !== 'ws') args.push(cur);
  return args;
}

test('macOS: the secret goes on security -i\'s stdin, never argv, and survives its parser', () => {
  for (const value of TRICKY) {
    const secret = `K-${value}`;
    const inv = securityInvocation('set', 'tokenrelay/v2/slot "x"/key', secret);
    assert.equal(inv.command, 'security');
    assert.deepEqual(inv.args, ['-i']);
    assert.ok(!inv.args.join(' ').includes('K-'));
    assert.ok(inv.stdin.endsWith('\n') && inv.stdin.indexOf('\n') === inv.stdin.length - 1, 'one line');
    assert.deepEqual(splitLikeSecurity(inv.stdin.trimEnd()),
      ['add-generic-password', '-U', '-s', 'tokenrelay', '-a', 'tokenrelay/v2/slot "x"/key', '-w', secret]);
  }
  assert.deepEqual(splitLikeSecurity(securityInvocation('get', 'n').stdin), ['find-generic-password', '-s', 'tokenrelay', '-a', 'n', '-w']);
  assert.deepEqual(splitLikeSecurity(securityInvocation('delete', 'n').stdin), ['delete-generic-password', '-s', 'tokenrelay', '-a', 'n']);
  assert.equal(quoteForSecurity('a"b\\c'), '"a\\"b\\\\c"');
});

test('macOS: a value security -i cannot carry (a line break) is refused without echoing it', () => {
  assert.throws(() => securityInvocation('set', 'n', 'K-secret\nsecond'), (err: unknown) =>
    isTokenRelayError(err, 'key-store') && !err.message.includes('K-secret'));
  assert.throws(() => securityInvocation('set', 'n', 'x'.repeat(5000)), (err: unknown) => isTokenRelayError(err, 'key-store'));
});

test('Windows: powershell argv is fixed; the secret is only in the stdin script, base64-encoded', () => {
  for (const value of TRICKY) {
    const secret = `K-${value}`;
    const inv = dpapiInvocation('protect', Buffer.from(secret, 'utf8'));
    assert.equal(inv.command, 'powershell.exe');
    assert.deepEqual(inv.args, ['-NoProfile', '-NonInteractive', '-Command', '-']);
    assert.deepEqual(POWERSHELL_ARGS, inv.args);
    const b64 = /FromBase64String\('([A-Za-z0-9+/=]*)'\)/.exec(inv.stdin)?.[1];
    assert.equal(Buffer.from(b64 ?? '', 'base64').toString('utf8'), secret, 'stdin carries the secret');
    assert.ok(!inv.stdin.includes(secret), 'the secret is not in the script as plain text (no quoting to get wrong)');
    assert.match(inv.stdin, /::Protect\(\$d,.*DataProtectionScope\]::CurrentUser\)/);
    assert.equal(inv.stdin.split('\n').filter(Boolean).length, 1, 'one line: -Command - runs stdin line by line');
  }
  assert.match(dpapiInvocation('unprotect', Buffer.from('blob')).stdin, /::Unprotect\(/);
});

test('Windows: the DPAPI store keeps only the protected blob on disk (stand-in powershell.exe)', { skip: process.platform === 'win32' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tokenrelay-dpapi-'));
  try {
    const bin = join(root, 'bin');
    const log = join(root, 'argv.log');
    // Stand-in: "protects" by XOR 0x5a, records its argv; the real DPAPI is not available here.
    const fake = join(bin, 'powershell.exe');
    mkdirSync(bin);
    writeFileSync(fake, `#!${process.execPath}
const fs = require('node:fs');
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');
const script = fs.readFileSync(0, 'utf8');
const b64 = /FromBase64String\\('([^']*)'\\)/.exec(script)[1];
if (Buffer.from(b64, 'base64').toString() === 'K-fail') { process.stderr.write("At line:1 char:1 + FromBase64String('secret-echo')\\ntokenrelay-dpapi: The data is invalid.\\n"); process.exit(1); }
process.stdout.write(Buffer.from(Buffer.from(b64, 'base64').map((b) => b ^ 0x5a)).toString('base64'));
`);
    chmodSync(fake, 0o700);
    const dir = join(root, 'keys');
    const store = new WindowsDpapiKeyStore({ dir, env: { PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(await store.get('n'), undefined);
    await store.set('n', 'K-secret "v"');
    assert.equal(await store.get('n'), 'K-secret "v"');
    const onDisk = readFileSync(join(dir, dpapiFileName('n')), 'utf8');
    assert.ok(!Buffer.from(onDisk, 'base64').toString().includes('K-secret'), 'the file holds the protected blob');
    assert.equal(statSync(join(dir, dpapiFileName('n'))).mode & 0o777, 0o600);
    assert.ok(!readFileSync(log, 'utf8').includes('K-secret'), 'no secret in argv');
    await store.delete('n');
    await store.delete('n');
    assert.deepEqual(readdirSync(dir), []);
    // A failure quotes only the script's own marked line, never PowerShell's echo of the script.
    await assert.rejects(store.set('n', 'K-fail'), (err: unknown) => isTokenRelayError(err, 'key-store')
      && /The data is invalid/.test(err.message) && !err.message.includes('secret-echo'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
