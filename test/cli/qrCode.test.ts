// The device prompt's QR code, checked against an independent decoder (jsQR) as the oracle: the
// encoder for every version and mask, the half-block rendering read back from the terminal text,
// and when sign-in prints it (a terminal only, never with --json, --no-qr or TERM=dumb).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { MAX_VERSION, encodeQr, penalty, reedSolomon } from '../../src/cli/direct/qrCode.ts';
import { QUIET_ZONE, renderQr, terminalQr } from '../../src/cli/direct/qrTerminal.ts';
import { devicePromptText } from '../../src/cli/direct/terminalSignIn.ts';

/** Decodes modules (true dark) drawn 4 pixels each, black on white, with a 4-module quiet zone around. */
function decode(modules: boolean[][], quiet = 4): { data: string; version: number } | undefined {
  const scale = 4;
  const side = (modules.length + 2 * quiet) * scale;
  const rgba = new Uint8ClampedArray(side * side * 4).fill(255);
  modules.forEach((row, y) => row.forEach((dark, x) => {
    if (!dark) return;
    for (let dy = 0; dy < scale; dy++) {
      for (let dx = 0; dx < scale; dx++) {
        const at = (((y + quiet) * scale + dy) * side + (x + quiet) * scale + dx) * 4;
        rgba[at] = rgba[at + 1] = rgba[at + 2] = 0;
      }
    }
  }));
  const found = jsQR(rgba, side, side, { inversionAttempts: 'dontInvert' });
  return found ? { data: found.data, version: found.version } : undefined;
}

/** The modules a terminal shows for rendered text: escapes dropped, each character two module rows. */
function readTerminal(text: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter(Boolean)) {
    const chars = [...line];
    rows.push(chars.map((c) => c === '▀' || c === '█'), chars.map((c) => c === '▄' || c === '█'));
  }
  return rows;
}

const url = (length: number) => `https://sso.example.com/realms/dev/device?user_code=WDJB-MJHT&pad=${'x'.repeat(length)}`.slice(0, length);

describe('QR encoder (ISO/IEC 18004, byte mode), decoded by jsQR', () => {
  test('every version 1..10 and every mask decode to the text; the version is the smallest that holds it', () => {
    // The largest byte count each version holds at level L (Table 7).
    const capacityL = [17, 32, 53, 78, 106, 134, 154, 192, 230, 271];
    for (const [i, capacity] of capacityL.entries()) {
      for (const length of [capacity, i === 0 ? 1 : capacityL[i - 1] + 1]) {
        const text = url(length);
        for (let mask = 0; mask < 8; mask++) {
          const code = encodeQr(text, { mask })!;
          assert.equal(code.version, i + 1, `${length} bytes`);
          assert.equal(code.mask, mask);
          assert.equal(code.size, 17 + 4 * code.version);
          assert.deepEqual(decode(code.modules), { data: text, version: code.version }, `${length} bytes, version ${code.version} ${code.ecl}, mask ${mask}`);
        }
      }
    }
  });

  test('level M where it fits the same version, else L; UTF-8 text survives', () => {
    assert.equal(encodeQr('x'.repeat(14))!.ecl, 'M'); // version 1-M holds 14 bytes
    assert.equal(encodeQr('x'.repeat(15))!.ecl, 'L');
    assert.equal(encodeQr('x'.repeat(15))!.version, 1);
    const text = 'https://sso.example.com/gerät?code=Ä1';
    assert.equal(decode(encodeQr(text)!.modules)?.data, text);
  });

  test('the mask chosen has the lowest penalty of the eight', () => {
    for (const length of [20, 60, 150, 260]) {
      const chosen = encodeQr(url(length))!;
      const scores = Array.from({ length: 8 }, (_, mask) => penalty(encodeQr(url(length), { mask })!.modules));
      assert.equal(penalty(chosen.modules), Math.min(...scores));
      assert.equal(decode(chosen.modules)?.data, url(length));
    }
  });

  // jsQR corrects errors, so it would pass a code with a few wrong bits: these are checked exactly.
  test('Reed–Solomon codewords, format and version information bit for bit as the spec\'s tables', () => {
    // "HELLO WORLD" at 1-M, the worked example most encoders test against.
    assert.deepEqual(reedSolomon([32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17], 10), [196, 35, 39, 119, 235, 215, 231, 226, 93, 23]);
    // Annex C, Table C.1: the 15 format bits (after the XOR mask) by level and mask.
    const format = {
      L: ['111011111000100', '111001011110011', '111110110101010', '111100010011101', '110011000101111', '110001100011000', '110110001000001', '110100101110110'],
      M: ['101010000010010', '101000100100101', '101111001111100', '101101101001011', '100010111111001', '100000011001110', '100111110010111', '100101010100000'],
    };
    for (const [text, ecl] of [['x'.repeat(10), 'M'], ['x'.repeat(16), 'L']] as const) {
      for (let mask = 0; mask < 8; mask++) {
        const { modules: m, size } = encodeQr(text, { mask })!;
        const bit = (x: number, y: number) => (m[y][x] ? '1' : '0');
        // Around the top-left finder, most significant bit first; then the bottom-left and top-right copy.
        const first = [0, 1, 2, 3, 4, 5, 7].map((x) => bit(x, 8)).join('') + [8, 7, 5, 4, 3, 2, 1, 0].map((y) => bit(8, y)).join('');
        const second = [1, 2, 3, 4, 5, 6, 7].map((i) => bit(8, size - i)).join('') + [8, 7, 6, 5, 4, 3, 2, 1].map((i) => bit(size - i, 8)).join('');
        assert.equal(first, format[ecl][mask], `${ecl} mask ${mask}`);
        assert.equal(second, format[ecl][mask], `${ecl} mask ${mask}, second copy`);
        assert.equal(bit(8, size - 8), '1', 'the dark module');
      }
    }
    // Annex D, Table D.1: the 18 version bits; bit i at row ⌊i/3⌋, column size-11+i%3 (top right), and transposed.
    const versionBits: Record<number, string> = { 7: '000111110010010100', 8: '001000010110111100', 9: '001001101010011001', 10: '001010010011010011' };
    for (const [length, version] of [[140, 7], [170, 8], [200, 9], [240, 10]]) {
      const { modules: m, size, version: v } = encodeQr(url(length))!;
      assert.equal(v, version);
      const read = (transpose: boolean) => Array.from({ length: 18 }, (_, k) => {
        const i = 17 - k;
        const [x, y] = [size - 11 + (i % 3), Math.floor(i / 3)];
        return (transpose ? m[x][y] : m[y][x]) ? '1' : '0';
      }).join('');
      assert.equal(read(false), versionBits[version]);
      assert.equal(read(true), versionBits[version]);
    }
  });

  test(`too long for version ${MAX_VERSION}: no code, no throw`, () => {
    assert.equal(encodeQr('x'.repeat(272)), undefined);
    assert.equal(encodeQr('€'.repeat(91)), undefined, '273 bytes in UTF-8');
  });
});

describe('QR on a terminal (half blocks)', () => {
  test('read back from the text it decodes; light quiet zone of 4 modules; each line coloured dark on light and reset', () => {
    for (const length of [25, 120, 271]) {
      const code = encodeQr(url(length))!;
      const text = renderQr(code);
      const lines = text.split('\n').filter(Boolean);
      assert.equal(lines.length, Math.ceil((code.size + 2 * QUIET_ZONE) / 2));
      for (const line of lines) assert.match(line, /^\x1b\[30;47m[▀▄█ ]+\x1b\[0m$/);
      const shown = readTerminal(text);
      assert.equal(shown[0].length, code.size + 2 * QUIET_ZONE);
      for (let y = 0; y < shown.length; y++) {
        for (let x = 0; x < shown[0].length; x++) {
          const inside = y >= QUIET_ZONE && x >= QUIET_ZONE && y < QUIET_ZONE + code.size && x < QUIET_ZONE + code.size;
          assert.equal(shown[y][x], inside && code.modules[y - QUIET_ZONE][x - QUIET_ZONE], `module ${x},${y}`);
        }
      }
      assert.equal(decode(shown, 0)?.data, url(length), 'the quiet zone printed is enough on its own');
    }
  });

  test('only on a terminal wide enough, not with TERM=dumb, and nothing for a URL too long', () => {
    const link = url(80);
    const width = encodeQr(link)!.size + 2 * QUIET_ZONE;
    assert.equal(decode(readTerminal(terminalQr(link, { isTTY: true, columns: width }, { TERM: 'xterm-256color' })), 0)?.data, link);
    assert.equal(terminalQr(link, { isTTY: false, columns: 200 }, {}), '', 'a pipe or a file');
    assert.equal(terminalQr(link, { isTTY: true, columns: 200 }, { TERM: 'dumb' }), '');
    assert.equal(terminalQr(link, { isTTY: true, columns: width - 1 }, {}), '', 'a wrapped code does not scan');
    assert.equal(terminalQr(`https://sso.example.com/device?${'a'.repeat(300)}`, { isTTY: true, columns: 500 }, {}), '');
  });
});

describe('sign-in device prompt', () => {
  const prompt = { userCode: 'WDJB-MJHT', verificationUri: 'https://sso.example.com/device', verificationUriComplete: 'https://sso.example.com/device?user_code=WDJB-MJHT', expiresAt: Date.now() + 600_000 };
  const tty = { isTTY: true, columns: 120 };
  const on = { json: false, qr: true, env: { TERM: 'xterm' } };

  test('on a terminal: the URL and code, then the QR code of the complete URL', () => {
    const text = devicePromptText(prompt, on, tty);
    assert.match(text, /^To sign in, open https:\/\/sso\.example\.com\/device\?user_code=WDJB-MJHT \(code WDJB-MJHT, valid 10 min\)\.\n/);
    assert.equal(decode(readTerminal(text.slice(text.indexOf('\n') + 1)), 0)?.data, prompt.verificationUriComplete);
  });

  test('without a complete URL the QR code is of the verification URL and the code is still to be entered', () => {
    const text = devicePromptText({ ...prompt, verificationUriComplete: undefined }, on, tty);
    assert.match(text, /^To sign in, open https:\/\/sso\.example\.com\/device and enter the code WDJB-MJHT /);
    assert.equal(decode(readTerminal(text.slice(text.indexOf('\n') + 1)), 0)?.data, prompt.verificationUri);
  });

  test('no QR code when stderr is not a terminal, with --json, with --no-qr, or with TERM=dumb', () => {
    const plain = devicePromptText(prompt, on, { isTTY: false });
    assert.doesNotMatch(plain, /[▀▄█]|\x1b/);
    assert.equal(plain.split('\n').length, 2, 'one line');
    assert.equal(devicePromptText(prompt, { ...on, json: true }, tty), plain);
    assert.equal(devicePromptText(prompt, { ...on, qr: false }, tty), plain);
    assert.equal(devicePromptText(prompt, { ...on, env: { TERM: 'dumb' } }, tty), plain);
    assert.notEqual(devicePromptText(prompt, on, tty), plain);
  });
});
