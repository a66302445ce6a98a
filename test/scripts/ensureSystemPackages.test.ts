// scripts/ensure-system-packages.sh against stub dpkg-query, apt-get and id on PATH: it installs only
// the missing packages, with --no-install-recommends and --no-upgrade, upgrades nothing on its own,
// keeps apt's chatter out of the output, and CONTRIBUTING.md names exactly the packages it installs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const script = join(repo, 'scripts', 'ensure-system-packages.sh');
const PACKAGES = /^PACKAGES=\(([^)]*)\)/m.exec(readFileSync(script, 'utf8'))![1].trim().split(/\s+/);

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

interface Run { code: number | null; stdout: string; stderr: string; apt: string[][] }

/** Runs the script with `installed` reported by dpkg-query; apt-get records its arguments. */
function run(installed: string[], opts: { uid?: number; plan?: string; failInstall?: boolean; noTools?: boolean; env?: Record<string, string> } = {}): Run {
  dir = mkdtempSync(join(tmpdir(), 'tokenrelay-apt-'));
  const calls = join(dir, 'apt-calls');
  const stub = (name: string, body: string) => {
    writeFileSync(join(dir!, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir!, name), 0o755);
  };
  stub('dpkg-query', `for p in $INSTALLED; do [ "$p" = "$3" ] && { printf 'install ok installed'; exit 0; }; done; exit 1`);
  stub('id', `echo ${opts.uid ?? 0}`);
  // A kubectl and a docker client on PATH, unless the test looks for ones that do not exist.
  stub('kubectl', 'exit 0');
  stub('docker', 'exit 0');
  const tools = opts.noTools ? { KUBECTL: 'tokenrelay-test-no-kubectl', DOCKER: 'tokenrelay-test-no-docker' } : {};
  stub('apt-get', [
    `printf '%s\\n' "$*" >> "${calls}"`,
    'case " $* " in *" -s "*) printf "%s\\n" "$PLAN"; exit 0;; esac',
    'echo "Reading package lists... Done (apt chatter)"',
    opts.failInstall ? 'case "$1" in install) echo "E: Unable to locate package"; exit 100;; esac' : '',
    'exit 0',
  ].join('\n'));
  const r = spawnSync('bash', [script], {
    encoding: 'utf8',
    env: { PATH: `${dir}:/usr/bin:/bin`, INSTALLED: installed.join(' '), PLAN: opts.plan ?? '', TMPDIR: dir, ...tools, ...opts.env },
  });
  const apt = existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').map((l) => l.split(' ')) : [];
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, apt };
}

describe('ensure-system-packages.sh', () => {
  test('needs git, procps, util-linux, bsdutils and mount besides the e2e packages', () => {
    for (const p of ['chromium', 'libkrb5-dev', 'libsecret-1-dev', 'libx11-dev', 'libxkbfile-dev', 'ripgrep', 'git', 'procps', 'util-linux', 'bsdutils', 'mount']) {
      assert.ok(PACKAGES.includes(p), `${p} is in the script's list`);
    }
  });

  test('everything present: one line, no apt-get at all', () => {
    const r = run(PACKAGES);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.apt, []);
    assert.equal(r.stdout, `ensure-system-packages: all ${PACKAGES.length} present\n`);
  });

  test('installs only the missing packages, without recommends and without upgrading installed ones', () => {
    const r = run(PACKAGES.filter((p) => p !== 'git' && p !== 'procps'), {
      plan: 'Inst perl-base [5.36.0-7] (5.36.0-7+deb12u2 Debian:12.11/stable [amd64])\nInst perl (5.36.0-7+deb12u2 Debian:12.11/stable [amd64])\nInst git (1:2.39.5-0+deb12u2 Debian:12.11/stable [amd64])\nInst procps (2:4.0.2-3 Debian:12.11/stable [amd64])',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.apt.map((a) => a[0]), ['update', 'install', 'install']);
    const [, simulated, install] = r.apt;
    assert.ok(simulated.includes('-s'), 'the plan is simulated first');
    assert.deepEqual(install.filter((a) => !a.startsWith('-')), ['install', 'git', 'procps'], 'only the missing ones');
    for (const flag of ['-y', '--no-install-recommends', '--no-upgrade']) assert.ok(install.includes(flag), `apt-get install ${flag}`);
    assert.ok(!r.apt.flat().some((a) => /^(upgrade|dist-upgrade|full-upgrade)$/.test(a)), 'never an upgrade command');
    assert.doesNotMatch(r.stdout, /apt chatter/, "apt's own output stays out of the way");
    assert.match(r.stdout, /missing: git procps\n/);
    assert.match(r.stdout, /\(3 new packages with dependencies\)/);
    assert.match(r.stdout, /note: the new packages need newer versions of these installed ones: perl-base\n/);
    assert.ok(r.stdout.split('\n').length <= 7, `short output:\n${r.stdout}`);
  });

  test('no kubectl or docker on PATH: Debian\'s kubernetes-client and docker.io are installed too', () => {
    const r = run(PACKAGES, { noTools: true, plan: 'Inst kubernetes-client (1.20.5 Debian:12.11/stable [amd64])' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /missing: kubernetes-client docker\.io\n/);
    assert.deepEqual(r.apt.at(-1)!.filter((a) => !a.startsWith('-')), ['install', 'kubernetes-client', 'docker.io']);
  });

  test('BENCH_PACKAGES (bench:cli\'s extras): ensures those packages instead of the list', () => {
    const r = run(PACKAGES, { env: { BENCH_PACKAGES: 'oidc-agent-cli' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /missing: oidc-agent-cli\n/);
    assert.deepEqual(r.apt.at(-1)!.filter((a) => !a.startsWith('-')), ['install', 'oidc-agent-cli']);
    assert.equal(run(['oidc-agent-cli'], { env: { BENCH_PACKAGES: 'oidc-agent-cli' } }).stdout, 'ensure-system-packages: all 1 present\n');
  });

  test('not root: names the exact command to run, installs nothing', () => {
    const r = run(PACKAGES.filter((p) => p !== 'ripgrep'), { uid: 1000 });
    assert.equal(r.code, 1);
    assert.deepEqual(r.apt, []);
    assert.match(r.stderr, /as root run: apt-get update && apt-get install -y -q --no-install-recommends --no-upgrade ripgrep\n$/);
  });

  test('a failing install shows apt\'s output and fails', () => {
    const r = run([], { failInstall: true });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERROR: 'apt-get install .*' failed; its output:\n[\s\S]*Unable to locate package/);
  });

  test('CONTRIBUTING.md lists exactly the packages the script installs', () => {
    const guide = readFileSync(join(repo, 'CONTRIBUTING.md'), 'utf8');
    const listed = /install missing apt packages \(`([^`]+)`/.exec(guide.replace(/\s*\n\s*/g, ' '));
    assert.ok(listed, 'CONTRIBUTING.md names the apt packages');
    assert.deepEqual(listed[1].split(' ').sort(), [...PACKAGES].sort());
  });
});
