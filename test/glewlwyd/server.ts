// startGlewlwyd(): glewlwyd 2.7 (C, the Debian package), the third test server and the one nobody on
// the project wrote. Its own configuration and sqlite database in a private directory; provisioned
// through its admin REST API: an OIDC plugin with one-use refresh tokens ("always"), the scope
// offline_access, a user, and a public client with the code, refresh and device grants whose
// redirect URI is matched exactly, port included. Facts it relies on: shared/docs/servers.md.
//
// Ground truth for tests is glewlwyd's own: its sqlite table gpo_access_token (one row per token
// issued; authorization type 6 = a refresh_token grant) and its log ("Token invalid" for a dead or
// used refresh token presented).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/wait.ts';
import { freePort } from '../support/freePort.ts';

export const GLEWLWYD = '/usr/bin/glewlwyd';
const SCHEMA = '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz';
const PLUGIN = 'oidc';
const REFRESH_GRANT = 6;

/** Why glewlwyd cannot run here (for `skip`), or false when it can. */
export function glewlwydMissing(): string | false {
  for (const path of [GLEWLWYD, SCHEMA, '/usr/bin/sqlite3', '/usr/bin/zcat']) {
    if (!existsSync(path)) return `${path} is missing (scripts/ensure-system-packages.sh installs glewlwyd and sqlite3)`;
  }
  return false;
}

export interface Glewlwyd {
  issuer: string;
  clientId: string;
  /** The one redirect URI the client has, matched exactly by glewlwyd. */
  redirectUri: string;
  login: string;
  /** Refresh grants glewlwyd recorded (rows of gpo_access_token issued by a refresh_token grant). */
  refreshGrants(): number;
  /** Refresh tokens glewlwyd refused as dead or used ("Token invalid" in its log). */
  invalidTokenPresentations(): number;
  /** Approves a device code as the user, through glewlwyd's own HTTP API (login, consent, device page). */
  approveDeviceCode(userCode: string): Promise<void>;
  /** Completes an authorization request as the logged-in user; resolves with where glewlwyd sends the browser (or its refusal). */
  authorize(url: string): Promise<{ status: number; location?: string }>;
  close(): Promise<void>;
}

export interface GlewlwydOptions {
  /** Access token lifetime in seconds (default 60). */
  accessTokenTtl?: number;
}


/** A cookie-keeping HTTP client for glewlwyd's session API. */
class Session {
  private cookie = '';
  constructor(private readonly api: string) {}

  async send(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await fetch(`${this.api}${path}`, {
      method, redirect: 'manual',
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(this.cookie ? { cookie: this.cookie } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const set = res.headers.getSetCookie().map((c) => c.split(';')[0]).filter(Boolean);
    if (set.length) this.cookie = set.join('; ');
    return res;
  }

  async ok(method: string, path: string, body?: unknown): Promise<void> {
    const res = await this.send(method, path, body);
    if (res.status !== 200) throw new Error(`glewlwyd ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  }
}

export async function startGlewlwyd(opts: GlewlwydOptions = {}): Promise<Glewlwyd> {
  const missing = glewlwydMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-glewlwyd-'));
  const db = join(dir, 'glewlwyd.db');
  const logFile = join(dir, 'glewlwyd.log');
  execFileSync('sh', ['-c', `zcat ${SCHEMA} | sqlite3 "${db}"`]);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const conf = readFileSync('/etc/glewlwyd/glewlwyd.conf', 'utf8')
    .replace(/^port=.*$/m, `port=${port}`)
    .replace(/^external_url=.*$/m, `external_url="${origin}"`)
    .replace(/^log_file=.*$/m, `log_file="${logFile}"`)
    .replace(/^log_mode=.*$/m, 'log_mode="file"')
    .replace(/^@include .*$/m, `database = { type = "sqlite3" path = "${db}" };`);
  writeFileSync(join(dir, 'glewlwyd.conf'), `${conf}\nbind_address="127.0.0.1"\n`);
  const child: ChildProcess = spawn(GLEWLWYD, ['-c', join(dir, 'glewlwyd.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const close = async () => {
    if (!stopped) {
      stopped = true;
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('glewlwyd to answer GET /config/', 15_000, async () => {
      if (child.exitCode !== null) throw new Error(`glewlwyd exited (${child.exitCode}); see ${logFile}`);
      return fetch(`${origin}/config/`).then((r) => r.ok, () => false);
    }, 50);
    const api = `${origin}/api`;
    const admin = new Session(api);
    await admin.ok('POST', '/auth/', { username: 'admin', password: 'password' });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await admin.ok('POST', '/mod/plugin/', {
      module: 'oidc', name: PLUGIN, display_name: 'OIDC', enabled: true,
      parameters: {
        iss: `${api}/${PLUGIN}`, 'jwt-type': 'rsa', 'jwt-key-size': '256',
        key: privateKey.export({ type: 'pkcs1', format: 'pem' }), cert: publicKey.export({ type: 'spki', format: 'pem' }),
        'access-token-duration': opts.accessTokenTtl ?? 60, 'refresh-token-duration': 1_209_600, 'code-duration': 600,
        'refresh-token-rolling': true, 'refresh-token-one-use': 'always', 'allow-non-oidc': true,
        'auth-type-code-enabled': true, 'auth-type-token-enabled': false, 'auth-type-id-token-enabled': true, 'auth-type-none-enabled': true,
        'auth-type-password-enabled': false, 'auth-type-client-enabled': false, 'auth-type-refresh-enabled': true, 'auth-type-device-enabled': true,
        'device-authorization-expiration': 600, 'device-authorization-interval': 1, 'pkce-allowed': true, 'pkce-method-plain-allowed': false,
        'introspection-revocation-allowed': true, 'introspection-revocation-auth-scope': [], 'introspection-revocation-allow-target-client': true,
        scope: [], 'additional-parameters': [], claims: [], 'secret-type': 'pairwise', 'name-claim': 'on-demand', 'email-claim': 'no', 'scope-claim': 'no',
        'allowed-scope': ['openid', 'offline_access', 'profile'], 'subject-type': 'public',
      },
    });
    await admin.ok('POST', '/scope/', { name: 'offline_access', display_name: 'Offline access', description: 'refresh tokens', password_required: true, scheme: {} });
    const login = 'alice';
    const password = 'alice-password-1';
    await admin.ok('POST', '/user/', { username: login, password, name: 'Alice', scope: ['openid', 'offline_access'], enabled: true });
    const clientId = 'tokenrelay';
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    await admin.ok('POST', '/client/', {
      client_id: clientId, name: 'Token Relay', confidential: false, enabled: true, redirect_uri: [redirectUri],
      authorization_type: ['code', 'refresh_token', 'device_authorization'], scope: ['openid', 'offline_access'],
    });
    // The user's browser session: logged in with the password, consent given to the client once.
    const user = new Session(api);
    await user.ok('POST', '/auth/', { username: login, password });
    await user.ok('PUT', `/auth/grant/${clientId}`, { scope: 'openid offline_access' });
    const sqlite = (query: string) => Number(execFileSync('sqlite3', [db, query], { encoding: 'utf8' }).trim() || 0);

    return {
      issuer: `${api}/${PLUGIN}`, clientId, redirectUri, login,
      refreshGrants: () => sqlite(`SELECT COUNT(*) FROM gpo_access_token WHERE gpoa_authorization_type = ${REFRESH_GRANT}`),
      invalidTokenPresentations: () => (readFileSync(logFile, 'utf8').match(/Token invalid/g) ?? []).length,
      async approveDeviceCode(userCode) {
        const res = await user.send('GET', `/${PLUGIN}/device?code=${encodeURIComponent(userCode)}&g_continue`);
        const location = res.headers.get('location') ?? '';
        if (res.status !== 302 || !/prompt=deviceComplete/.test(location)) throw new Error(`glewlwyd did not complete the device code: HTTP ${res.status} ${location}`);
      },
      async authorize(url) {
        const get = async (target: URL) => {
          const res = await user.send('GET', target.pathname.slice('/api'.length) + target.search);
          return { status: res.status, location: res.headers.get('location') ?? undefined };
        };
        const answer = await get(new URL(url));
        // prompt=consent: glewlwyd sends the browser to its consent page, which (once the user
        // agrees, as this user already did) continues to callback_url with g_continue.
        const consent = answer.location && new URL(answer.location).pathname === '/login.html' ? new URL(answer.location).searchParams.get('callback_url') : null;
        if (!consent) return answer;
        const next = new URL(consent);
        next.searchParams.set('g_continue', '');
        return get(next);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
