// Installs code-server 4.100.3 (= VS Code 1.100.3, last release that runs on Node 20) into
// <repo>/.cache/code-server on first use. Run directly or import ensureCodeServer().
// Offline-safe: the ripgrep postinstall is fed a cache archive built from Debian's /usr/bin/rg.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync, copyFileSync, chmodSync, rmSync, openSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '4.100.3';
const scriptsDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(scriptsDir, '..');
export const installDir = join(repoRoot, '.cache', 'code-server');
const entry = join(installDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const marker = join(installDir, `.installed-${VERSION}`);
const npmLog = join(installDir, 'npm-install.log');

const log = (msg) => console.error(`setup-code-server: ${msg}`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

// @vscode/ripgrep@1.15.11 looks here before downloading from GitHub.
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
    [/node-gyp|gyp ERR/i, 'build-essential / python3 (native build failed)'],
  ];
  // Only error lines: a successful build log mentions node-gyp, X11 etc. too.
  const errors = text.split('\n').filter((l) => /ERR|error|fatal|not found|No such file|canceled/i.test(l)).join('\n');
  return hints.filter(([re]) => re.test(errors)).map(([, pkg]) => pkg);
}

function installedVersion() {
  const pkg = join(installDir, 'node_modules', 'code-server', 'package.json');
  try { return JSON.parse(readFileSync(pkg, 'utf8')).version; } catch { return undefined; }
}

// Output goes to npmLog; a heartbeat line shows the install is alive.
function npmInstall() {
  const fd = openSync(npmLog, 'w');
  const started = Date.now();
  const child = spawn('npm', ['install', `code-server@${VERSION}`, '--unsafe-perm'], {
    cwd: installDir,
    env: { ...process.env, npm_config_yes: 'true', TMPDIR: tmpdir() },
    stdio: ['ignore', fd, fd],
  });
  const timer = setInterval(() => log(`  npm install running, ${Math.round((Date.now() - started) / 1000)} s`), 15000);
  return new Promise((resolveStatus, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolveStatus(code ?? signal));
  }).finally(() => { clearInterval(timer); closeSync(fd); });
}

const isInstalled = () => existsSync(marker) && existsSync(entry) && installedVersion() === VERSION;

// Cross-process lock (test files may run in parallel): mkdir is atomic; a lock older than
// 10 minutes is from a killed installer.
async function withLock(fn) {
  const lock = `${installDir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  for (let waited = 0; ; waited += 1000) {
    try { mkdirSync(lock); break; } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let age = 0;
      try { age = Date.now() - statSync(lock).mtimeMs; } catch { continue; }
      if (age > 10 * 60_000) { rmSync(lock, { recursive: true, force: true }); continue; }
      if (waited % 15000 === 0) log('waiting for another install to finish');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try { return await fn(); } finally { rmSync(lock, { recursive: true, force: true }); }
}

/** Returns the path of code-server's entry script (run it with `node <entry>`). */
export async function ensureCodeServer() {
  if (isInstalled()) return entry;
  return withLock(async () => (isInstalled() ? entry : install()));
}

async function install() {
  const started = Date.now();
  log(`installing code-server@${VERSION} into ${installDir}`);
  run('bash', [join(scriptsDir, 'ensure-system-packages.sh')]);
  buildRipgrepCache();
  mkdirSync(installDir, { recursive: true });
  // Own package.json so npm does not walk up into the project's node_modules.
  writeFileSync(join(installDir, 'package.json'),
    JSON.stringify({ name: 'code-server-cache', private: true, version: '0.0.0' }, null, 2) + '\n');
  log(`npm install (output in ${npmLog}); takes about a minute`);
  const status = await npmInstall();
  const output = readFileSync(npmLog, 'utf8');
  if (status !== 0 || !existsSync(entry)) {
    const tail = output.trimEnd().split('\n').slice(-40).join('\n');
    const likely = diagnose(output);
    throw new Error(`code-server install failed (exit ${status}); last lines of ${npmLog}:\n${tail}\n` +
      (likely.length ? `likely missing: ${likely.join(', ')}` : 'see the log for the cause'));
  }
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  log(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return entry;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureCodeServer().then(
    (p) => console.log(p),
    (err) => { console.error(`setup-code-server: ${err.message}`); process.exit(1); },
  );
}
