// `npm start`: Token Relay in a real VS Code (code-server) against a local OpenID Connect provider.
// Builds and packages the extension, installs code-server on first use, starts the demo IdP with a
// protected API, starts code-server with tokenrelay installed and configured, prints what to try.
// Ctrl+C stops everything. Environment: PORT (code-server port; a free one otherwise), HOST
// (default 127.0.0.1), TOKENRELAY_DEMO_TTL (access-token lifetime in seconds, default 30).
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCodeServer } from './setup-code-server.mjs';
import { packageVsix } from '../test/e2e/lib/packaging.ts';
import { startCodeServer, type CodeServer } from '../test/e2e/lib/code-server.ts';
import { startIdp, type Idp } from '../test/idp/server.ts';
import { banner, dropNpmEnv, remoteNote, workspaceReadme } from './demoText.ts';

const TTL = Number(process.env.TOKENRELAY_DEMO_TTL ?? 30);
const HOST = process.env.HOST || '127.0.0.1';
const SKEW = Math.min(10, Math.max(1, Math.floor(TTL / 4)));
const SCOPES = ['openid', 'profile', 'offline_access', 'api:read'];

const started = Date.now();
const clock = () => new Date().toTimeString().slice(0, 8);
const say = (line = '') => process.stdout.write(`${line}\n`);
const step = (line: string) => say(`[demo ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);

// What the IdP logs, in words a newcomer can follow while trying the demo.
function describeIdpLine(line: string): string | undefined {
  if (line.startsWith('idp listening') || line === 'idp closed') return undefined;
  const words: [RegExp, string][] = [
    [/^grant\.success authorization_code/, 'sign-in completed (authorization code + PKCE) → access + refresh token issued'],
    [/^grant\.success urn:ietf:params:oauth:grant-type:device_code/, 'device-code sign-in completed → access + refresh token issued'],
    [/^grant\.success refresh_token/, `refresh: one refresh token spent, new access token valid ${TTL} s`],
    [/^grant\.revoked/, 'grant revoked (sign-out, or a refresh token was reused)'],
    [/^api 401/, `API answered 401 (${line.slice(9)})`],
  ];
  const hit = words.find(([re]) => re.test(line));
  return hit ? hit[1] : line;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

function parsePort(): number | undefined {
  if (!process.env.PORT) return undefined;
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORT must be a TCP port number, got "${process.env.PORT}"`);
  return port;
}

function writeWorkspace(dir: string, idp: Idp): void {
  writeFileSync(join(dir, 'README.md'), workspaceReadme({ issuer: idp.issuer, apiUrl: idp.apiUrl, ttl: TTL, skew: SKEW }));
}

async function main(): Promise<void> {
  const port = parsePort();
  if (port !== undefined && !(await portIsFree(port))) throw new Error(`PORT ${port} is already in use on ${HOST}`);

  let idp: Idp | undefined;
  let server: CodeServer | undefined;
  let workspace: string | undefined;
  let stopping = false;
  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    say();
    step(`${why}: stopping code-server (process group), the IdP and the API …`);
    const hardExit = setTimeout(() => process.exit(code || 1), 15_000);
    hardExit.unref();
    await server?.stop().catch((err: Error) => step(`code-server stop failed: ${err.message}`));
    await idp?.close().catch((err: Error) => step(`IdP close failed: ${err.message}`));
    if (workspace) rmSync(workspace, { recursive: true, force: true });
    step('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop('Ctrl+C', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGHUP', () => void stop('SIGHUP', 0));

  try {
    step('building and packaging the extension (npm run package) …');
    const vsix = await packageVsix();
    step(`packaged ${vsix}`);
    step('checking code-server 4.100.3 (installed into .cache/code-server on first use, about a minute) …');
    await ensureCodeServer();

    // ::1, not 127.0.0.1: code-server rewrites openExternal of http://127.0.0.1:port/… to its
    // /proxy/port/ route without path and query, which would break browser sign-in.
    idp = await startIdp({
      host: '::1',
      accessTokenTtl: TTL,
      logger: (line) => {
        const text = describeIdpLine(line);
        if (text && !stopping) say(`[idp  ${clock()}] ${text}`);
      },
    });
    step(`demo IdP at ${idp.issuer} (access tokens live ${TTL} s; any username works)`);

    workspace = mkdtempSync(join(tmpdir(), 'tokenrelay-demo-workspace-'));
    writeWorkspace(workspace, idp);
    step('starting code-server with tokenrelay installed …');
    // Its terminals inherit this environment: leave out what `npm start` added (npm_*, INIT_CWD…).
    dropNpmEnv();
    server = await startCodeServer({
      vsixPaths: [vsix],
      workspace,
      port,
      host: HOST,
      tempPrefix: 'tokenrelay-demo-',
      settings: {
        'tokenrelay.issuer': idp.issuer,
        'tokenrelay.clientId': idp.clientId,
        'tokenrelay.scopes': SCOPES,
        // code-server counts as a remote window, where `auto` picks the device code; the browser
        // runs on this machine here, so the loopback redirect works and is the smoother demo.
        'tokenrelay.signInFlow': 'loopback',
        'tokenrelay.refreshSkewSeconds': SKEW,
        'workbench.startupEditor': 'readme', // opens the workspace README.md written above
        // Every URL the demo prints in a terminal would otherwise be forwarded ("Over 20 ports…").
        'remote.autoForwardPorts': false,
      },
    });
  } catch (err) {
    step(`FAILED: ${(err as Error).message}`);
    await stop('error', 1);
    return;
  }

  say(banner({ url: server.url, issuer: idp!.issuer, apiUrl: idp!.apiUrl, ttl: TTL, skew: SKEW, logFile: server.logFile }));
  const note = remoteNote(HOST);
  if (note) say(note);
}

main().catch((err: Error) => {
  step(`FAILED: ${err.stack ?? err.message}`);
  process.exit(1);
});
