// A QR code encoder (ISO/IEC 18004:2015), enough for a sign-in URL: byte mode, error-correction
// level L or M, versions 1..10. Written here rather than taken as a dependency, which the CLI keeps few.
// Version 10 is 57 modules wide, 65 with the quiet zone: the largest that fits an 80-column terminal.

export type Ecl = 'L' | 'M';

export interface QrCode {
  version: number;
  ecl: Ecl;
  mask: number;
  size: number;
  /** modules[y][x]: true is dark. */
  modules: boolean[][];
}

export const MAX_VERSION = 10;

// Table 9, versions 1..10: error-correction codewords per block and the number of blocks.
const EC_PER_BLOCK: Record<Ecl, number[]> = { L: [7, 10, 15, 20, 26, 18, 20, 24, 30, 18], M: [10, 16, 26, 18, 24, 16, 18, 22, 22, 26] };
const BLOCKS: Record<Ecl, number[]> = { L: [1, 1, 1, 1, 1, 2, 2, 2, 2, 4], M: [1, 1, 1, 2, 2, 4, 4, 4, 5, 5] };
// Annex E: row/column centres of the alignment patterns, versions 2..10.
const ALIGNMENT: number[][] = [[], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50]];
// Table 12: the error-correction level's two bits in the format information.
const ECL_BITS: Record<Ecl, number> = { L: 1, M: 0 };

/**
 * The smallest symbol holding `text` (UTF-8, byte mode) at level L, raised to M when that fits the
 * same version; undefined when it fits no version up to MAX_VERSION. `mask` forces a mask (tests).
 * A screen is a clean medium, so L is enough, and a smaller code scans from further away; M's
 * extra margin is taken only when it costs no size.
 */
export function encodeQr(text: string, options: { mask?: number } = {}): QrCode | undefined {
  const data = new TextEncoder().encode(text);
  let version = 1;
  while (version <= MAX_VERSION && !fits(data.length, version, 'L')) version++;
  if (version > MAX_VERSION) return undefined;
  const ecl: Ecl = fits(data.length, version, 'M') ? 'M' : 'L';
  const codewords = withErrorCorrection(dataCodewords(data, version, ecl), version, ecl);
  const symbol = new Matrix(version);
  symbol.placeData(codewords);
  let mask = options.mask;
  if (mask === undefined) {
    // 7.8.3: the mask with the lowest penalty.
    let best = Infinity;
    for (let m = 0; m < 8; m++) {
      const score = penalty(symbol.masked(m, ecl));
      if (score < best) [best, mask] = [score, m];
    }
  }
  return { version, ecl, mask: mask!, size: symbol.size, modules: symbol.masked(mask!, ecl) };
}

// ---- Capacity and the data bit stream (7.4) ----

const countBits = (version: number) => (version <= 9 ? 8 : 16); // Table 3, byte mode
const size = (version: number) => 17 + 4 * version;

/** Codewords of a version (Table 1): the modules left after the function patterns, over 8. */
function totalCodewords(version: number): number {
  const n = size(version);
  let modules = n * n - 3 * 64 - 2 * (n - 16) - 1 - 2 * 15; // finders+separators, timing, dark module, format
  const a = ALIGNMENT[version - 1].length;
  if (a) modules -= 25 * (a * a - 3) - 5 * 2 * (a - 2); // alignment patterns, less their overlap with the timing lines
  if (version >= 7) modules -= 36; // two version information blocks
  return Math.floor(modules / 8);
}

const dataCapacity = (version: number, ecl: Ecl) => totalCodewords(version) - EC_PER_BLOCK[ecl][version - 1] * BLOCKS[ecl][version - 1];
const fits = (bytes: number, version: number, ecl: Ecl) => 4 + countBits(version) + 8 * bytes <= 8 * dataCapacity(version, ecl);

function dataCodewords(data: Uint8Array, version: number, ecl: Ecl): number[] {
  const bits: number[] = [];
  const put = (value: number, length: number) => { for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1); };
  put(0b0100, 4); // byte mode indicator
  put(data.length, countBits(version));
  for (const byte of data) put(byte, 8);
  const capacity = dataCapacity(version, ecl) * 8;
  put(0, Math.min(4, capacity - bits.length)); // terminator
  put(0, (8 - (bits.length % 8)) % 8);
  const out: number[] = [];
  for (let i = 0; i < bits.length; i += 8) out.push(bits.slice(i, i + 8).reduce((acc, b) => (acc << 1) | b, 0));
  for (let pad = 0xec; out.length < capacity / 8; pad ^= 0xec ^ 0x11) out.push(pad); // 11101100, 00010001
  return out;
}

// ---- Reed–Solomon over GF(256), polynomial x^8+x^4+x^3+x^2+1 (7.5.2) ----

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++, x = (x << 1) ^ (x & 0x80 ? 0x11d : 0)) {
  EXP[i] = EXP[i + 255] = x;
  LOG[x] = i;
}
const mul = (a: number, b: number) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);

/** The generator polynomial (x-α^0)…(x-α^(n-1)), coefficients from the highest power, leading 1 dropped. */
function generator(n: number): number[] {
  let g = [1];
  for (let i = 0; i < n; i++) {
    const next = new Array<number>(g.length + 1).fill(0);
    g.forEach((c, j) => { next[j] ^= c; next[j + 1] ^= mul(c, EXP[i]); });
    g = next;
  }
  return g.slice(1);
}

/** The n error-correction codewords of a block: its remainder by the generator polynomial. */
export function reedSolomon(data: number[], n: number): number[] {
  const g = generator(n);
  const r = new Array<number>(n).fill(0);
  for (const d of data) {
    const factor = d ^ r.shift()!;
    r.push(0);
    g.forEach((c, i) => { r[i] ^= mul(c, factor); });
  }
  return r;
}

/** Splits into blocks (short ones first), adds each block's EC codewords, interleaves (7.6). */
function withErrorCorrection(data: number[], version: number, ecl: Ecl): number[] {
  const blocks = BLOCKS[ecl][version - 1];
  const ecLength = EC_PER_BLOCK[ecl][version - 1];
  const shortLength = Math.floor(data.length / blocks);
  const longBlocks = data.length % blocks;
  const split: number[][] = [];
  for (let b = 0, at = 0; b < blocks; b++) {
    const length = shortLength + (b >= blocks - longBlocks ? 1 : 0);
    split.push(data.slice(at, at += length));
  }
  const ec = split.map((block) => reedSolomon(block, ecLength));
  const out: number[] = [];
  for (let i = 0; i <= shortLength; i++) for (const block of split) if (i < block.length) out.push(block[i]);
  for (let i = 0; i < ecLength; i++) for (const block of ec) out.push(block[i]);
  return out;
}

// ---- The symbol: function patterns, data placement, masks, format and version information ----

class Matrix {
  readonly size: number;
  readonly dark: boolean[][];
  readonly isFunction: boolean[][];

  constructor(readonly version: number) {
    this.size = size(version);
    this.dark = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
    this.isFunction = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
    for (let i = 0; i < this.size; i++) {
      this.set(6, i, i % 2 === 0); // timing patterns
      this.set(i, 6, i % 2 === 0);
    }
    for (const [x, y] of [[3, 3], [this.size - 4, 3], [3, this.size - 4]]) this.finder(x, y);
    const centres = ALIGNMENT[version - 1];
    const last = centres.length - 1;
    centres.forEach((y, i) => centres.forEach((x, j) => {
      if ((i === 0 && (j === 0 || j === last)) || (i === last && j === 0)) return; // a finder pattern's place
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) this.set(x + dx, y + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
    }));
    this.format(0, 'M'); // reserves the format areas; the real bits go in per mask
    if (version >= 7) this.versionInfo();
  }

  private set(x: number, y: number, dark: boolean): void {
    this.dark[y][x] = dark;
    this.isFunction[y][x] = true;
  }

  /** A 7×7 finder pattern centred at (x, y), with its light separator. */
  private finder(x: number, y: number): void {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const [xx, yy] = [x + dx, y + dy];
        const ring = Math.max(Math.abs(dx), Math.abs(dy));
        if (xx >= 0 && xx < this.size && yy >= 0 && yy < this.size) this.set(xx, yy, ring !== 2 && ring !== 4);
      }
    }
  }

  /** 7.9.1: 5 bits (level, mask), a BCH(15,5) remainder, XOR 101010000010010, twice. */
  format(mask: number, ecl: Ecl, dark = this.dark): void {
    const data = (ECL_BITS[ecl] << 3) | mask;
    let r = data;
    for (let i = 0; i < 10; i++) r = (r << 1) ^ ((r >>> 9) * 0x537);
    const bits = ((data << 10) | r) ^ 0x5412;
    const bit = (i: number) => ((bits >>> i) & 1) === 1;
    const put = (x: number, y: number, v: boolean) => { dark[y][x] = v; this.isFunction[y][x] = true; };
    const n = this.size;
    for (let i = 0; i <= 5; i++) put(8, i, bit(i));
    put(8, 7, bit(6));
    put(8, 8, bit(7));
    put(7, 8, bit(8));
    for (let i = 9; i < 15; i++) put(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) put(n - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) put(8, n - 15 + i, bit(i));
    put(8, n - 8, true); // the dark module
  }

  /** 7.10: the version in 6 bits and a BCH(18,6) remainder, bottom-left and top-right. */
  private versionInfo(): void {
    let r = this.version;
    for (let i = 0; i < 12; i++) r = (r << 1) ^ ((r >>> 11) * 0x1f25);
    const bits = (this.version << 12) | r;
    for (let i = 0; i < 18; i++) {
      const v = ((bits >>> i) & 1) === 1;
      const [a, b] = [this.size - 11 + (i % 3), Math.floor(i / 3)];
      this.set(a, b, v);
      this.set(b, a, v);
    }
  }

  /** 7.7.3: two-module columns from the right, upwards then downwards, skipping the timing column. */
  placeData(codewords: number[]): void {
    let i = 0;
    for (let right = this.size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      const upward = ((right + 1) & 2) === 0;
      for (let step = 0; step < this.size; step++) {
        const y = upward ? this.size - 1 - step : step;
        for (const x of [right, right - 1]) {
          if (this.isFunction[y][x]) continue;
          this.dark[y][x] = i < codewords.length * 8 && ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1; // remainder bits are 0
          i++;
        }
      }
    }
  }

  /** A copy with mask `mask` (Table 10) applied to the data modules and its format information. */
  masked(mask: number, ecl: Ecl): boolean[][] {
    const out = this.dark.map((row, y) => row.map((d, x) => (this.isFunction[y][x] ? d : d !== MASKS[mask](x, y))));
    this.format(mask, ecl, out);
    return out;
  }
}

// Table 10, with i the row (y) and j the column (x).
const MASKS: Array<(x: number, y: number) => boolean> = [
  (x, y) => (x + y) % 2 === 0,
  (_x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(y / 2) + Math.floor(x / 3)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

/** 7.8.3.1, Table 11: runs of 5+ (N1=3), 2×2 blocks (N2=3), finder-like 1:1:3:1:1 (N3=40), dark share (N4=10). */
export function penalty(m: boolean[][]): number {
  const n = m.length;
  let score = 0;
  const lines = [...m, ...m.map((_, x) => m.map((row) => row[x]))];
  const finderLike = [true, false, true, true, true, false, true];
  for (const line of lines) {
    for (let i = 0; i < n;) {
      let j = i;
      while (j < n && line[j] === line[i]) j++;
      if (j - i >= 5) score += 3 + (j - i - 5);
      i = j;
    }
    // The pattern with 4 light modules on one side; outside the symbol counts as light (the quiet zone).
    const light = (i: number) => i < 0 || i >= n || !line[i];
    for (let i = 0; i + 7 <= n; i++) {
      if (!finderLike.every((d, k) => line[i + k] === d)) continue;
      if ([1, 2, 3, 4].every((k) => light(i - k)) || [1, 2, 3, 4].every((k) => light(i + 6 + k))) score += 40;
    }
  }
  for (let y = 0; y + 1 < n; y++) {
    for (let x = 0; x + 1 < n; x++) {
      const c = m[y][x];
      if (m[y][x + 1] === c && m[y + 1][x] === c && m[y + 1][x + 1] === c) score += 3;
    }
  }
  const dark = m.reduce((acc, row) => acc + row.filter(Boolean).length, 0);
  score += 10 * Math.floor(Math.abs(dark * 100 / (n * n) - 50) / 5);
  return score;
}
