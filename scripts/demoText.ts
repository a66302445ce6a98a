// What `npm start` (scripts/demo.ts) prints and writes, and the environment it gives code-server:
// kept apart from the demo's start-up so the words and the environment can be tested.
import { delimiter } from 'node:path';

export interface DemoFacts {
  url: string;
  issuer: string;
  apiUrl: string;
  ttl: number;
  skew: number;
  logFile: string;
}

/** How to sign in. Token Relay places its own session request, so the Accounts menu lists it at once. */
const SIGN_IN = [
  'Sign in: click "Token Relay: Sign in" in the status bar, or open the Accounts menu (the person',
  'icon at the bottom of the activity bar) and choose "Sign in with Token Relay".',
];

export function banner(f: DemoFacts): string {
  return `
  ┌──────────────────────────────────────────────────────────────────────────
  │ Token Relay demo is running.
  │
  │   Open:          ${f.url}/
  │   IdP (issuer):  ${f.issuer}    — any username and password work
  │   API:           ${f.apiUrl}
  │   Access tokens expire after ${f.ttl} s; tokenrelay refreshes ${f.skew} s before expiry.
  │
  │ Try:
  │   1. ${SIGN_IN[0]}
  │      ${SIGN_IN[1]}
  │      VS Code asks before opening the IdP page: choose Open. Log in with any name and password,
  │      press Continue on the consent page, close the tab.
  │   2. Open a terminal (Ctrl+\`) and run:
  │        tokenrelay status
  │        tokenrelay fetch ${f.apiUrl}
  │   3. Open the same URL in a second tab (a second VS Code window, its own extension host).
  │      Watch this console: one "refresh" line per expiry, whichever window does it.
  │      Hover the status bar item: the tooltip says "this window" or "another process (pid N)".
  │
  │ Device-code sign-in instead: set "tokenrelay.signInFlow" to "deviceCode" in Settings.
  │ code-server log: ${f.logFile}
  │ Press Ctrl+C to stop everything.
  └──────────────────────────────────────────────────────────────────────────
`;
}

/**
 * For HOST other than loopback: code-server is reachable from elsewhere, but the IdP listens on
 * [::1] (scripts/demo.ts starts it there, see the comment) and the loopback redirect goes to
 * 127.0.0.1, both on this machine. Device code does not help: its verification page is the IdP's.
 */
export function remoteNote(host: string): string | undefined {
  if (host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]') return undefined;
  return `  Note: HOST=${host}. The IdP listens on [::1] (this machine only), and the loopback sign-in redirect
  goes to 127.0.0.1 on this machine: sign in from a browser on this machine.\n`;
}

export function workspaceReadme(f: Omit<DemoFacts, 'url' | 'logFile'>): string {
  return `# Token Relay demo

- IdP (issuer): ${f.issuer} — any username and password work.
- Protected API: ${f.apiUrl}
- Access tokens live ${f.ttl} s, so you can watch refreshes happen.

1. ${SIGN_IN.join(' ')} VS Code asks before opening the IdP page: choose Open. Any name and
   password work; press Continue on the consent page, then close that tab.
2. Open a terminal (Ctrl+\`) and run:

       tokenrelay status
       tokenrelay token | head -c 12; echo     # the start of it: never show a whole token
       tokenrelay fetch ${f.apiUrl}

3. Open this same URL in a second browser tab: another VS Code window with its own extension host.
   Both keep working across expiries and the IdP sees ONE refresh per expiry. Hover over the
   status bar item: the tooltip says who refreshed ("this window" / "another process (pid N)").
`;
}

/**
 * The environment without what \`npm start\` added: npm_* (npm_package_*, npm_config_*, npm_lifecycle_*…),
 * INIT_CWD, NODE, COLOR and the node_modules/.bin and node-gyp-bin directories npm put in front of
 * PATH. code-server's terminals inherit it, so they would show npm's variables otherwise.
 */
export function withoutNpmEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const fromNpm = env.npm_lifecycle_event !== undefined || env.npm_execpath !== undefined;
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (/^npm_/i.test(key) || key === 'INIT_CWD') continue;
    if (fromNpm && (key === 'NODE' || key === 'COLOR')) continue;
    out[key] = value;
  }
  if (fromNpm && out.PATH) {
    const parts = out.PATH.split(delimiter);
    let first = 0;
    while (first < parts.length && /(\/node_modules\/\.bin|\/node-gyp-bin)\/?$/.test(parts[first])) first++;
    out.PATH = parts.slice(first).join(delimiter);
  }
  return out;
}

/** Makes process.env what withoutNpmEnv returns, for the child processes started after this. */
export function dropNpmEnv(): void {
  const clean = withoutNpmEnv(process.env);
  for (const key of Object.keys(process.env)) if (!(key in clean)) delete process.env[key];
  Object.assign(process.env, clean);
}
