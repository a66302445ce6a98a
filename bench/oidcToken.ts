// The native peer for bench:cli (issue 17): oidc-agent's `oidc-token` (Debian's oidc-agent-cli) against
// the same test IdP, interleaved with `node -e 0` and warm `tokenrelay token` (no window, and through
// `tokenrelay agent`) in the same rounds. oidc-agent-cli is installed when missing
// (scripts/ensure-system-packages.sh with BENCH_PACKAGES); if it cannot be set up the figure is a
// reason printed instead, never a failed bench.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startIdp, type Idp } from '../test/idp/server.ts';
import { BASIC_CLIENT_ID, DEVICE_CODE_GRANT } from '../test/idp/config.ts';
import { approveDeviceCode } from '../test/idp/login.ts';
import { repoRoot } from '../test/cli/support.ts';
import { deviceSignIn, interleaved, startAgent, stopChild, type Timer, type TokenVsNode } from './noWindow.ts';

const ACCOUNT = 'bench';

export type OidcTokenFigures = { measured: false; reason: string } | {
  measured: true;
  version: string;
  /** Warm `oidc-token bench` (access token still fresh: the agent answers from memory), median. */
  oidcTokenMs: number;
  nodeMs: number;
  /** oidc-token / node -e 0. */
  ratio: number;
  /** The same rounds: tokenrelay's medians, their ratio to node, and to oidc-token. */
  direct: TokenVsNode & { perOidcToken: number };
  agent: TokenVsNode & { perOidcToken: number };
  /** Refresh grants the IdP saw during the rounds (0: every figure is a warm read). */
  refreshesDuringRounds: number;
};

/** Why oidc-token cannot run here, after installing oidc-agent-cli if it is missing; undefined when it can. */
function ensureOidcToken(): string | undefined {
  if (!spawnSync('oidc-token', ['--version']).error) return undefined;
  const r = spawnSync('bash', [join(repoRoot, 'scripts', 'ensure-system-packages.sh')], {
    env: { ...process.env, BENCH_PACKAGES: 'oidc-agent-cli' }, stdio: ['ignore', 2, 2],
  });
  if (spawnSync('oidc-token', ['--version']).error) return `oidc-agent-cli is not installed (ensure-system-packages.sh exited ${r.status})`;
  return undefined;
}

/**
 * A refresh token for the IdP's client_secret_basic client from a device grant. Not the public
 * client tokenrelay uses: oidc-agent 4.2.6 sends a public client's empty secret in HTTP Basic, which
 * the IdP refuses ("client_secret must be provided in the Authorization header").
 */
async function refreshTokenFor(idp: Idp): Promise<string> {
  const headers = { authorization: `Basic ${Buffer.from(`${BASIC_CLIENT_ID}:${idp.clientSecret}`).toString('base64')}` };
  const post = async (url: string, form: Record<string, string>) =>
    (await fetch(url, { method: 'POST', headers, body: new URLSearchParams(form) })).json() as Promise<Record<string, string>>;
  const meta = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json() as Record<string, string>;
  const device = await post(meta.device_authorization_endpoint, { scope: 'openid offline_access profile' });
  await approveDeviceCode(idp.issuer, device.user_code);
  const tokens = await post(meta.token_endpoint, { grant_type: DEVICE_CODE_GRANT, device_code: device.device_code });
  if (!tokens.refresh_token) throw new Error(`no refresh token from the device grant: ${tokens.error ?? 'none'}`);
  return tokens.refresh_token;
}

function run(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: output.trim() }));
  });
}

/** oidc-agent on a private socket with account `bench` loaded (nothing saved to disk); throws with the tools' own words. */
async function startOidcAgent(idp: Idp, dir: string): Promise<{ agent: ChildProcess; env: NodeJS.ProcessEnv }> {
  mkdirSync(dir);
  const env = { PATH: process.env.PATH!, HOME: dir, TMPDIR: dir, OIDC_CONFIG_DIR: join(dir, 'config'), OIDC_SOCK: join(dir, 'agent.sock') };
  // The client secret goes in a 0600 file (-f), the refresh token in the environment (--rt-env): neither in argv.
  const clientFile = join(dir, 'client.json');
  writeFileSync(clientFile, JSON.stringify({ client_id: BASIC_CLIENT_ID, client_secret: idp.clientSecret, issuer_url: idp.issuer, scope: 'openid offline_access profile' }), { mode: 0o600 });
  const agent = spawn('oidc-agent', ['--console', '--socket-path', env.OIDC_SOCK, '--quiet'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  agent.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; });
  try {
    for (let waited = 0; !existsSync(env.OIDC_SOCK); waited += 20) {
      if (agent.exitCode !== null || waited > 5000) throw new Error(`oidc-agent did not open its socket: ${log.trim() || `exit ${agent.exitCode}`}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const gen = await run('oidc-gen', [ACCOUNT, '-f', clientFile, '--rt-env', '--no-save', '--confirm-default', '--prompt=none', '--no-url-call'],
      { ...env, OIDC_REFRESH_TOKEN: await refreshTokenFor(idp) });
    if (gen.code !== 0) throw new Error(`oidc-gen exited ${gen.code}: ${gen.output}`);
    return { agent, env };
  } catch (err) {
    await stopChild(agent);
    throw err;
  }
}

export async function measureOidcToken(cliJs: string, rounds: number, time: Timer): Promise<OidcTokenFigures> {
  const missing = ensureOidcToken();
  if (missing) return { measured: false, reason: missing };
  const version = spawnSync('oidc-token', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const idp = await startIdp({ accessTokenTtl: 3600 });
  const dir = mkdtempSync('/tmp/trb-oidc-'); // short: the sockets' paths must fit sun_path
  let oidcAgent: ChildProcess | undefined;
  let trAgent: ChildProcess | undefined;
  try {
    let oidcEnv: NodeJS.ProcessEnv;
    try {
      ({ agent: oidcAgent, env: oidcEnv } = await startOidcAgent(idp, join(dir, 'oidc')));
    } catch (err) {
      return { measured: false, reason: (err as Error).message };
    }
    // tokenrelay with VS Code closed, signed in to the same IdP: the one-shot host, and `tokenrelay agent`.
    const home = (name: string, extra: Record<string, string> = {}) => {
      const h = join(dir, name);
      return { PATH: process.env.PATH!, HOME: h, TMPDIR: h, TOKENRELAY_HOME: join(h, 'state'), TOKENRELAY_CONFIG: join(h, 'config.json'), TOKENRELAY_KEY_STORE: 'file', ...extra };
    };
    const direct = home('direct');
    const viaAgent = home('agent', { XDG_RUNTIME_DIR: join(dir, 'agent', 'run') }); // the agent's socket directory
    for (const env of [direct, viaAgent]) {
      mkdirSync(join(env.TMPDIR, 'run'), { recursive: true, mode: 0o700 });
      await deviceSignIn(cliJs, env, idp.issuer, idp.clientId);
    }
    trAgent = await startAgent(cliJs, viaAgent, time);
    const oidcToken = { cmd: 'oidc-token', argv: [ACCOUNT], env: oidcEnv };
    for (let i = 0; i < 5; i++) for (const c of [oidcToken, { cmd: process.execPath, argv: [cliJs, 'token'], env: direct }, { cmd: process.execPath, argv: [cliJs, 'token'], env: viaAgent }]) await time(c.cmd, c.argv, c.env);
    const before = idp.counters().refreshGrants;
    const r = await interleaved(cliJs, rounds, time, { oidcToken, direct, agent: viaAgent });
    const per = (f: TokenVsNode) => ({ ...f, perOidcToken: Math.round((f.tokenMs / r.oidcToken.tokenMs) * 100) / 100 });
    return {
      measured: true, version, oidcTokenMs: r.oidcToken.tokenMs, nodeMs: r.oidcToken.nodeMs, ratio: r.oidcToken.ratio,
      direct: per(r.direct), agent: per(r.agent), refreshesDuringRounds: idp.counters().refreshGrants - before,
    };
  } finally {
    await stopChild(trAgent);
    await stopChild(oidcAgent);
    rmSync(dir, { recursive: true, force: true });
    await idp.close();
  }
}
