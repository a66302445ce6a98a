// The CLI as a newcomer meets it (issue 18): an aligned help table, `version`, "did you mean",
// completion scripts a real bash loads, `status --json` that is JSON even when it fails, and
// `setup` for PATH, git, kubectl and docker that shows its changes first and keeps what was there.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { version } from '../../package.json';
import { suggestionFor } from '../../src/cli/didYouMean.ts';
import { cliBundle, runChild, type CliResult } from './support.ts';

let home: string;
let cliJs: string;

before(async () => {
  cliJs = (await cliBundle()).cliJs;
  home = mkdtempSync(join(tmpdir(), 'tokenrelay-ux-'));
});
after(() => rmSync(home, { recursive: true, force: true }));

/** A clean environment: nothing of this machine's sessions, windows or keyring. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH!, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: join(home, 'run'),
    TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), ...extra,
  };
}
const cli = (args: string[], extra: Record<string, string> = {}, js = cliJs): Promise<CliResult> =>
  runChild(process.execPath, [js, ...args], { env: env(extra), cwd: home });

describe('help, version, did you mean', () => {
  test('the command table is aligned: every summary starts in the same column, after at least two spaces', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    const lines = r.stdout.split('\n');
    const table = lines.slice(lines.indexOf('Commands:') + 1);
    const rows = table.slice(0, table.indexOf(''));
    assert.ok(rows.some((l) => l.startsWith('  kubectl-credential ')), 'the longest name is listed');
    const columns = new Set(rows.map((l) => /^ {2}\S+ {2,}/.exec(l)?.[0].length));
    assert.equal(columns.size, 1, `summaries start in one column:\n${rows.join('\n')}`);
    assert.ok(!columns.has(undefined), 'every name is followed by two spaces');
  });

  test('`version`, `--version` and `-V` print the version', async () => {
    for (const arg of ['version', '--version', '-V']) {
      const r = await cli([arg]);
      assert.deepEqual([r.code, r.stdout], [0, `${version}\n`], arg);
    }
  });

  test('a mistyped command is a usage error that names the closest command; a word like none names nothing', async () => {
    const typo = await cli(['tokn']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /Unknown command "tokn"\. Did you mean "token"\?/);
    const swap = await cli(['stauts']);
    assert.match(swap.stderr, /Did you mean "status"\?/);
    const none = await cli(['xyzzy']);
    assert.equal(none.code, 2);
    assert.doesNotMatch(none.stderr, /Did you mean/);
    assert.equal(suggestionFor('sign', ['sign-in', 'sign-out']), undefined, 'an ambiguous prefix suggests nothing');
    assert.equal(suggestionFor('kube', ['kubectl-credential', 'token']), 'kubectl-credential');
  });
});

describe('completion', () => {
  test('bash: the script loads in a real bash and completes commands and a command\'s options', async () => {
    const script = (await cli(['completion', 'bash'])).stdout;
    const complete = (words: string[]) => execFileSync('bash', ['-c', `${script}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _tokenrelay; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(complete(['tokenrelay', 'to']), ['token']);
    assert.deepEqual(complete(['tokenrelay', 'status', '--j']), ['--json']);
    assert.deepEqual(complete(['tokenrelay', 'git-credential', 'e']), ['erase']);
    assert.ok(complete(['tokenrelay', 'sign-in', '--']).includes('--device'));
    assert.ok(complete(['tokenrelay', 'status', '--']).includes('--profile'), 'every command takes --profile');
    assert.ok(complete(['tokenrelay', 'token', '--']).includes('--resource'));
    assert.deepEqual(complete(['tokenrelay', 'sign-in', '--no']), ['--no-qr']);
  });

  test('zsh and fish scripts name every command; an unknown shell is a usage error', async () => {
    const zsh = (await cli(['completion', 'zsh'])).stdout;
    assert.match(zsh, /^autoload -U \+X bashcompinit && bashcompinit$/m);
    const fish = (await cli(['completion', 'fish'])).stdout;
    for (const name of ['token', 'status', 'fetch', 'setup', 'mcp-proxy']) assert.match(fish, new RegExp(`-n __fish_use_subcommand -a ${name} -d`));
    assert.match(fish, /__fish_seen_subcommand_from status' -l json$/m);
    assert.equal((await cli(['completion', 'powershell'])).code, 2);
  });

  test('sign-in --no-qr: in its help, in fish completion, and parsed (the usage error is about the flows, not the option)', async () => {
    assert.match((await cli(['sign-in', '--help'])).stdout, /^  --no-qr {13}print the device code's URL without a QR code$/m);
    assert.match((await cli(['completion', 'fish'])).stdout, /__fish_seen_subcommand_from sign-in' -l no-qr$/m);
    const r = await cli(['sign-in', '--no-qr', '--device', '--browser']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /use either --device or --browser/);
  });
});

describe('status --json', () => {
  test('with no window and nothing configured: exit 4 and still one JSON object on stdout naming the fix', async () => {
    const r = await cli(['status', '--json']);
    assert.equal(r.code, 4, r.stderr);
    const parsed = JSON.parse(r.stdout);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.exitCode, 4);
    assert.match(parsed.error, /tokenrelay sign-in --issuer/);
    assert.match(r.stderr, /tokenrelay sign-in --issuer/, 'the message still goes to stderr');
  });
});

describe('setup path', () => {
  /** An extensions folder holding Token Relay <v>, as VS Code installs it. */
  function installed(extensions: string, v: string, script?: string): string {
    const root = join(extensions, `tokenrelay.tokenrelay-${v}`);
    mkdirSync(join(root, 'bin'), { recursive: true });
    cpSync(join(cliJs, '..'), join(root, 'dist'), { recursive: true });
    const launcher = join(root, 'bin', 'tokenrelay');
    writeFileSync(launcher, script ?? readFileSync(join(cliJs, '..', '..', 'bin', 'tokenrelay'), 'utf8'));
    chmodSync(launcher, 0o755);
    return root;
  }

  test('a launcher that follows extension updates; shown first, and nothing written without a yes', async () => {
    const extensions = join(home, 'extensions');
    const old = installed(extensions, '0.1.0');
    const bin = join(home, 'bin');
    const oldCli = join(old, 'dist', 'cli.js');

    const dry = await cli(['setup', 'path', '--dir', bin, '--dry-run'], {}, oldCli);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`create ${join(bin, 'tokenrelay')}`));
    const refused = await cli(['setup', 'path', '--dir', bin], {}, oldCli);
    assert.equal(refused.code, 2, 'no terminal and no --yes: a usage error');
    assert.match(refused.stderr, /--yes/);
    assert.throws(() => readFileSync(join(bin, 'tokenrelay')), 'nothing written without a yes');

    const done = await cli(['setup', 'path', '--dir', bin, '--yes'], {}, oldCli);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`${bin} is not on your PATH`));
    const run = () => runChild(join(bin, 'tokenrelay'), ['version'], { env: env(), cwd: home });
    assert.deepEqual([(await run()).code, (await run()).stdout], [0, `${version}\n`]);

    // An update: a newer folder appears and the old one is removed. The launcher follows.
    installed(extensions, '0.2.0', '#!/bin/sh\necho "tokenrelay 0.2.0 $*"\n');
    const newer = join(extensions, 'tokenrelay.tokenrelay-0.2.0');
    utimesSync(newer, new Date(), new Date(Date.now() + 5_000));
    rmSync(old, { recursive: true });
    assert.equal((await run()).stdout, 'tokenrelay 0.2.0 version\n');

    rmSync(newer, { recursive: true });
    const gone = await run();
    assert.equal(gone.code, 4);
    assert.match(gone.stderr, /no longer installed/);
  });

  test('a file of the same name that is not ours is never overwritten', async () => {
    const bin = join(home, 'bin-foreign');
    mkdirSync(bin);
    writeFileSync(join(bin, 'tokenrelay'), '#!/bin/sh\necho mine\n');
    const r = await cli(['setup', 'path', '--dir', bin, '--yes']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists and was not written by Token Relay/);
    assert.equal(readFileSync(join(bin, 'tokenrelay'), 'utf8'), '#!/bin/sh\necho mine\n');
  });
});

describe('setup git, kubectl, docker', () => {
  test('git: the host gets tokenrelay as its only helper, run twice gives the same config, and settings are named', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await cli(['setup', 'git', '--host', 'git.example.com', '--yes']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /tokenrelay\.git\.hosts/);
    }
    const values = execFileSync('git', ['config', '--global', '--get-all', 'credential.https://git.example.com.helper'], { env: env(), encoding: 'utf8' });
    assert.equal(values, '\n!tokenrelay git-credential\n');
    const work = await cli(['setup', 'git', '--host', 'git.work.example', '--profile', 'work', '--yes']);
    assert.equal(work.code, 0, work.stderr);
    assert.equal(execFileSync('git', ['config', '--global', '--get-all', 'credential.https://git.work.example.helper'], { env: env(), encoding: 'utf8' }),
      '\n!tokenrelay git-credential --profile work\n', 'that host asks for the profile "work"');
    assert.equal((await cli(['setup', 'git', '--host', 'git.work.example', '--profile', 'a b;rm', '--yes'])).code, 2, 'not a profile name');
    assert.equal((await cli(['setup', 'git'])).code, 2, 'a host is required');
    assert.equal((await cli(['setup', 'git', '--host', 'evil host;rm', '--yes'])).code, 2, 'not a host name');
  });

  test('kubectl: a user that runs tokenrelay kubectl-credential, and the context uses it', async () => {
    const kubeconfig = join(home, 'kubeconfig');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters:\n- name: dev\n  cluster: {server: "https://k8s.example.com"}\ncontexts: []\nusers: []\n');
    const r = await cli(['setup', 'kubectl', '--context', 'dev', '--yes'], { KUBECONFIG: kubeconfig });
    assert.equal(r.code, 0, r.stderr);
    const view = JSON.parse(execFileSync('kubectl', ['config', 'view', '-o', 'json'], { env: { ...env(), KUBECONFIG: kubeconfig }, encoding: 'utf8' }));
    const user = view.users.find((u: { name: string }) => u.name === 'tokenrelay').user.exec;
    assert.deepEqual([user.command, user.args, user.apiVersion, user.interactiveMode, user.provideClusterInfo],
      ['tokenrelay', ['kubectl-credential'], 'client.authentication.k8s.io/v1', 'Never', true]);
    assert.equal(view.contexts.find((c: { name: string }) => c.name === 'dev').context.user, 'tokenrelay');
    assert.equal(view.clusters[0].cluster.server, 'https://k8s.example.com', 'the rest of the kubeconfig is kept');

    const work = await cli(['setup', 'kubectl', '--user', 'work', '--profile', 'work', '--yes'], { KUBECONFIG: kubeconfig });
    assert.equal(work.code, 0, work.stderr);
    const after = JSON.parse(execFileSync('kubectl', ['config', 'view', '-o', 'json'], { env: { ...env(), KUBECONFIG: kubeconfig }, encoding: 'utf8' }));
    assert.deepEqual(after.users.find((u: { name: string }) => u.name === 'work').user.exec.args, ['kubectl-credential', '--profile', 'work']);
  });

  test('docker: credHelpers added, everything else in config.json kept; a broken config.json is named and left alone', async () => {
    const dir = join(home, 'docker');
    mkdirSync(dir);
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ auths: { 'other.example.com': {} }, credHelpers: { 'gcr.io': 'gcloud' } }));
    const r = await cli(['setup', 'docker', '--registry', 'registry.example.com', '--yes'], { DOCKER_CONFIG: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tokenrelay\.docker\.registries/);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
      auths: { 'other.example.com': {} }, credHelpers: { 'gcr.io': 'gcloud', 'registry.example.com': 'tokenrelay' },
    });
    assert.match((await cli(['setup', 'docker', '--registry', 'registry.example.com', '--yes'], { DOCKER_CONFIG: dir })).stdout, /Nothing to change/);

    writeFileSync(path, '{ "auths": ');
    const broken = await cli(['setup', 'docker', '--registry', 'registry.example.com', '--yes'], { DOCKER_CONFIG: dir });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /config\.json is not valid JSON .*it was not changed/);
    assert.equal(readFileSync(path, 'utf8'), '{ "auths": ');
  });
});
