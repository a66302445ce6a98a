// A QR code drawn in a terminal, for the device-code prompt: a phone scans it instead of typing the URL.
import { encodeQr, type QrCode } from './qrCode.ts';

/** ISO/IEC 18004 asks for 4 light modules around the symbol; 2 often scan, but 4 still fits 80 columns. */
export const QUIET_ZONE = 4;

// Black on white, named explicitly rather than the theme's own colours or reverse video, whose
// polarity flips between dark and light themes: scanners expect dark modules on a light ground,
// and some refuse an inverted code. The light quiet zone is printed too, as the terminal's
// background may be dark. Reset at each line end so the colour never spills past the code.
const DARK_ON_LIGHT = '\x1b[30;47m';
const RESET = '\x1b[0m';

/** Two module rows per character row: ▀ top dark, ▄ bottom dark, █ both, space neither. */
export function renderQr(code: QrCode, quiet = QUIET_ZONE): string {
  const dark = (x: number, y: number) => x >= 0 && y >= 0 && x < code.size && y < code.size && code.modules[y][x];
  const lines: string[] = [];
  for (let y = -quiet; y < code.size + quiet; y += 2) {
    let line = '';
    for (let x = -quiet; x < code.size + quiet; x++) {
      const [top, bottom] = [dark(x, y), dark(x, y + 1)];
      line += top ? (bottom ? '█' : '▀') : bottom ? '▄' : ' ';
    }
    lines.push(`${DARK_ON_LIGHT}${line}${RESET}\n`);
  }
  return lines.join('');
}

export interface TerminalStream {
  isTTY?: boolean;
  columns?: number;
}

/**
 * The QR code of `url` to print on `stream`, or '' where it cannot help: not a terminal (a pipe,
 * a log, --json), TERM=dumb, a URL too long for the versions encoded, or a terminal too narrow (a
 * wrapped code does not scan).
 */
export function terminalQr(url: string, stream: TerminalStream, env: NodeJS.ProcessEnv): string {
  if (!stream.isTTY || env.TERM === 'dumb') return '';
  const code = encodeQr(url);
  if (!code) return '';
  if (stream.columns !== undefined && stream.columns < code.size + 2 * QUIET_ZONE) return '';
  return renderQr(code);
}
