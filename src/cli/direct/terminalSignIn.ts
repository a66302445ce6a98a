// Sign-in in a terminal, for the one-shot host: device code (RFC 8628) where no browser can be
// opened on this machine (SSH, no DISPLAY), the loopback redirect (RFC 8252) otherwise. The prompt
// goes to stderr, or to stdout as one JSON line per event with --json, so scripts can drive it.
// On a terminal the device prompt adds the URL as a QR code, for a phone to scan.
import type * as ChildProcess from 'node:child_process';
import type { SignedIn } from '../../core/types.ts';
import type { OAuthClient } from '../../oauth/oauthClient.ts';
import { signInWithDeviceCode, type DevicePrompt } from '../../oauth/deviceFlow.ts';
import { signInWithLoopback } from '../../oauth/loopbackFlow.ts';
import { signInFailure } from '../../oauth/signInErrors.ts';
import { terminalQr, type TerminalStream } from './qrTerminal.ts';
import { out } from '../common.ts';

export type TerminalFlow = 'auto' | 'device' | 'browser';

export interface TerminalSignInOptions {
  flow: TerminalFlow;
  json: boolean;
  /** A QR code under the device prompt when stderr is a terminal (--no-qr turns it off). */
  qr: boolean;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

/** No local browser: an SSH session, or a Linux/BSD session without a display. */
export function browserUnavailable(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): boolean {
  if (env.SSH_CONNECTION || env.SSH_TTY) return true;
  return platform !== 'darwin' && platform !== 'win32' && !env.DISPLAY && !env.WAYLAND_DISPLAY;
}

export async function signInInTerminal(client: OAuthClient, o: TerminalSignInOptions): Promise<SignedIn> {
  try {
    return await run(client, o);
  } catch (err) {
    throw signInFailure(err, client.config);
  }
}

async function run(client: OAuthClient, o: TerminalSignInOptions): Promise<SignedIn> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  const emit = (event: Record<string, unknown>, text: string) => {
    if (o.json) void out(`${JSON.stringify(event)}\n`);
    else process.stderr.write(text);
  };
  const device = o.flow === 'device' || (o.flow === 'auto' && browserUnavailable(o.env));
  if (device) {
    return signInWithDeviceCode(client, {
      signal,
      present: (p) => emit({ verificationUri: p.verificationUri, verificationUriComplete: p.verificationUriComplete, userCode: p.userCode }, devicePromptText(p, o)),
    });
  }
  return signInWithLoopback(client, {
    signal,
    openBrowser: (url) => {
      emit({ authorizationUrl: url }, `Opening your browser to sign in. If it does not open, visit:\n  ${url}\n`);
      openInBrowser(url);
    },
  });
}

/** The device prompt for stderr; on a terminal, with the URL to open as a QR code under it. */
export function devicePromptText(p: DevicePrompt, o: Pick<TerminalSignInOptions, 'json' | 'qr' | 'env'>, stderr: TerminalStream = process.stderr): string {
  const url = p.verificationUriComplete ?? p.verificationUri;
  const text = `To sign in, open ${url}${p.verificationUriComplete ? '' : ` and enter the code ${p.userCode}`} (code ${p.userCode}, valid ${Math.round((p.expiresAt - Date.now()) / 60_000)} min).\n`;
  return o.qr && !o.json ? text + terminalQr(url, stderr, o.env) : text;
}

/** The platform's opener; the URL (no secret: state and a PKCE challenge) is its only argument. */
function openInBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]]
    : process.platform === 'win32' ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
    : ['xdg-open', [url]];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('node:child_process') as typeof ChildProcess; // only to open a browser
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', () => undefined); // the URL was printed: the user can open it by hand
  child.unref();
}
