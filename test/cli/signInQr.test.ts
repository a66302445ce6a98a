// `tokenrelay sign-in --device` from the bundled CLI, approved on the test IdP: in a real pseudo-
// terminal (util-linux `script`) the prompt carries a QR code that jsQR decodes to the
// verification URL; with --no-qr, TERM=dumb or stderr on a pipe it carries none.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import jsQR from 'jsqr';
import { approveDeviceCode } from '../idp/login.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { cliBundle } from './support.ts';

let idp: Idp;
let home: string;
let cliJs: string;
const hasScript = (() => {
  try { execFileSync('script', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

before(async () => {
  idp = await startIdp();
  home = mkdtempSync(join(tmpdir(), 'tokenrelay-qr-'));
  cliJs = (await cliBundle()).cliJs;
});
after(async () => {
  await idp?.close();
  rmSync(home, { recursive: true, force: true });
});

/** Signs in by device code, approving the code as soon as it shows; all the terminal showed, escapes dropped. */
async function signIn(args: string[], o: { pty: boolean; term?: string }): Promise<{ code: number | null; shown: string }> {
  const argv = [cliJs, 'sign-in', '--device', '--force', '--issuer', idp.issuer, '--client-id', idp.clientId, ...args];
  const env = {
    PATH: process.env.PATH!, HOME: home, TERM: o.term ?? 'xterm-256color', TOKENRELAY_KEY_STORE: 'file',
    TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'),
  };
  const child = o.pty
    ? spawn('script', ['-qfec', `stty cols 100; exec "${process.execPath}" ${argv.map((a) => `'${a}'`).join(' ')}`, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let shown = '';
  let approval: Promise<void> | undefined;
  const read = (chunk: Buffer) => {
    shown += chunk.toString();
    const userCode = /\(code (\S+),/.exec(shown)?.[1];
    if (userCode && !approval) approval = approveDeviceCode(idp.issuer, userCode, 'carol');
  };
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  await approval;
  return { code, shown: shown.replace(/\r/g, '') };
}

/** The QR code among the lines a terminal shows: half-block lines read back to modules, then jsQR. */
function decodeShown(shown: string): string | undefined {
  const lines = shown.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((line) => /^[▀▄█ ]{21,}$/.test(line));
  if (!lines.length) return undefined;
  const rows = lines.flatMap((line) => [[...line].map((c) => c === '▀' || c === '█'), [...line].map((c) => c === '▄' || c === '█')]);
  const [scale, width, height] = [4, rows[0].length * 4, rows.length * 4];
  const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
  rows.forEach((row, y) => row.forEach((dark, x) => {
    if (!dark) return;
    for (let dy = 0; dy < scale; dy++) {
      for (let dx = 0; dx < scale; dx++) rgba.fill(0, ((y * scale + dy) * width + x * scale + dx) * 4, ((y * scale + dy) * width + x * scale + dx) * 4 + 3);
    }
  }));
  return jsQR(rgba, width, height, { inversionAttempts: 'dontInvert' })?.data;
}

const deviceUrl = (shown: string) => /To sign in, open (\S+) /.exec(shown)?.[1];

describe('sign-in --device: the QR code only on a terminal', { skip: hasScript ? false : 'no util-linux script for a pseudo-terminal' }, () => {
  test('in a terminal: the URL, the code, and a QR code of that URL', async () => {
    const r = await signIn([], { pty: true });
    assert.equal(r.code, 0, r.shown);
    assert.match(r.shown, /Signed in as carol\./);
    assert.match(deviceUrl(r.shown) ?? '', /\/device\?user_code=/);
    assert.equal(decodeShown(r.shown), deviceUrl(r.shown));
  });

  test('no QR code with --no-qr, with TERM=dumb, or with stderr on a pipe', async () => {
    for (const [args, o] of [[['--no-qr'], { pty: true }], [[], { pty: true, term: 'dumb' }], [[], { pty: false }]] as const) {
      const r = await signIn([...args], o);
      assert.equal(r.code, 0, r.shown);
      assert.ok(deviceUrl(r.shown), `the URL is still printed (${JSON.stringify({ args, o })})`);
      assert.doesNotMatch(r.shown, /[▀▄█]/, JSON.stringify({ args, o }));
    }
  });
});
