// tokenrelay setup path|git|kubectl|docker: writes the configuration a tool needs to use Token Relay,
// after showing exactly what it will change (like `gh auth setup-git`). Nothing is changed without
// a yes: a prompt on a terminal, --yes in a script; --dry-run only shows.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, out, parse, printHelp, usageError, type Command } from '../common.ts';
import { defaultBinDir, installLaunchers, planLaunchers } from '../../app/launcher.ts';

const help = `Usage: ${PROG} setup <path|git|kubectl|docker> [options]

Writes a tool's configuration for Token Relay, after showing what will change.

  path     [--dir DIR]          launchers for ${PROG} and docker-credential-tokenrelay in DIR
                                (default ~/.local/bin) that survive extension updates
  git      --host HOST ...      git's credential helper for each HOST (git config --global)
  kubectl  [--context C] [--user NAME]
                                a kubeconfig user NAME (default "tokenrelay") running
                                "${PROG} kubectl-credential"; with --context, that context uses it
  docker   --registry R ...     credHelpers entries in ~/.docker/config.json

Options:
  --profile P  git and kubectl ask for profile P's token (tokenrelay.profiles or the
               configuration file); docker: list the registry in profile P's docker.registries
  --yes        apply without asking (for scripts)
  --dry-run    show the changes and stop
  -h, --help   show this help

Token Relay itself gives the token only to the hosts and registries you list in its settings
(tokenrelay.git.hosts, tokenrelay.docker.registries, or the same keys in a profile of
~/.config/tokenrelay/config.json); setup reminds you which to add.`;

interface Change {
  /** What the user reads before saying yes. */
  describe: string;
  apply(): Promise<void>;
}

export const setupCommand: Command = {
  name: 'setup',
  summary: 'configure git, kubectl, docker or PATH to use tokenrelay',
  help,
  async run(argv) {
    const { values, positionals } = parse('setup', argv, {
      dir: { type: 'string' },
      host: { type: 'string', multiple: true },
      context: { type: 'string' },
      user: { type: 'string' },
      registry: { type: 'string', multiple: true },
      profile: { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
      'dry-run': { type: 'boolean' },
    }, true);
    if (values.help) return printHelp(help);
    const [target, ...extra] = positionals;
    if (extra.length) throw usageError(`Unexpected "${extra[0]}"`, 'setup');
    let plan: { changes: Change[]; notes: string[] };
    switch (target) {
      case 'path': plan = pathPlan(values.dir); break;
      case 'git': plan = gitPlan(values.host ?? [], values.profile); break;
      case 'kubectl': plan = kubectlPlan(values.context, values.user ?? 'tokenrelay', values.profile); break;
      case 'docker': plan = dockerPlan(values.registry ?? []); break;
      default: throw usageError(target ? `Unknown setup target "${target}": use path, git, kubectl or docker` : 'Name what to set up: path, git, kubectl or docker', 'setup');
    }
    if (!plan.changes.length) {
      await out(`Nothing to change.\n${plan.notes.map((n) => `${n}\n`).join('')}`);
      return EXIT.ok;
    }
    await out(`${PROG} setup ${target} will:\n${plan.changes.map((c) => `  - ${c.describe}\n`).join('')}`);
    if (values['dry-run']) return EXIT.ok;
    if (!(await confirmed(values.yes === true))) {
      await out('Nothing was changed.\n');
      return process.stdin.isTTY ? EXIT.error : EXIT.usage;
    }
    for (const change of plan.changes) await change.apply();
    await out(`Done.\n${plan.notes.map((n) => `${n}\n`).join('')}`);
    return EXIT.ok;
  },
};

/** A yes from --yes, or from the user at a terminal; a script without --yes is told how. */
async function confirmed(yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) {
    process.stderr.write(`${PROG}: standard input is not a terminal; run again with --yes to apply these changes.\n`);
    return false;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question('Apply? [y/N] ')).trim());
  } finally {
    rl.close();
  }
}

/** The installation this CLI runs from: the folder holding bin/ and dist/ (dist/cli.js's parent). */
const installRoot = () => resolve(dirname(process.argv[1] ?? '.'), '..');

function pathPlan(dir: string | undefined) {
  const binDir = resolve(dir ?? defaultBinDir(homedir()));
  let plan;
  try {
    plan = planLaunchers(installRoot(), binDir, process.env);
  } catch (err) {
    throw new CliError(EXIT.error, (err as Error).message);
  }
  const changes = plan.files.filter((f) => f.action !== 'keep').map((f): Change => ({
    describe: `${f.action === 'create' ? 'create' : 'update'} ${f.path} (a launcher that runs the newest installed Token Relay)`,
    apply: async () => installLaunchers({ ...plan, files: [f] }),
  }));
  const notes = plan.onPath ? [] : [`${binDir} is not on your PATH. Add it:\n  ${plan.pathHint}`];
  return { changes, notes };
}

/** `--profile P` as the tool passes it to the helper (a profile name needs no quoting: parse checked it). */
const profileArgs = (profile: string | undefined): string[] => (profile === undefined ? [] : ['--profile', profile]);

function gitPlan(hosts: string[], profile: string | undefined) {
  const helper = [`!${PROG}`, 'git-credential', ...profileArgs(profile)].join(' ');
  if (!hosts.length) throw usageError('Name the git host: --host git.example.com (repeat for more)', 'setup');
  const changes: Change[] = [];
  for (const host of hosts) {
    if (!/^[a-z0-9.-]+(:\d+)?$/i.test(host)) throw usageError(`"${host}" is not a host name (as git.example.com or git.example.com:8443)`, 'setup');
    const key = `credential.https://${host}.helper`;
    // gh's pattern: an empty helper first resets helpers inherited from other config, so git asks only us for this host.
    changes.push({
      describe: `git config --global ${key} to "" then "${helper}" (the only helper for https://${host})`,
      apply: async () => {
        await run('git', ['config', '--global', '--replace-all', key, '']);
        await run('git', ['config', '--global', '--add', key, helper]);
      },
    });
  }
  const notes = [`Token Relay answers only the hosts in tokenrelay.git.hosts. Add ${hosts.map((h) => `"${h}"`).join(', ')} to it in VS Code's user settings, or to "git": {"hosts": [...]} in your profile in ~/.config/tokenrelay/config.json.`];
  return { changes, notes };
}

function kubectlPlan(context: string | undefined, user: string, profile: string | undefined) {
  const args = ['kubectl-credential', ...profileArgs(profile)];
  const changes: Change[] = [{
    describe: `kubectl config set-credentials ${user}: exec "${PROG} ${args.join(' ')}" (client.authentication.k8s.io/v1, never interactive, told which cluster it serves)`,
    // provideClusterInfo: the plugin then refuses plain http and clusters outside tokenrelay.kubernetes.clusters.
    apply: () => run('kubectl', ['config', 'set-credentials', user, '--exec-api-version=client.authentication.k8s.io/v1',
      `--exec-command=${PROG}`, ...args.map((a) => `--exec-arg=${a}`), '--exec-interactive-mode=Never', '--exec-provide-cluster-info=true']),
  }];
  if (context) {
    changes.push({ describe: `kubectl config set-context ${context} --user=${user}`, apply: () => run('kubectl', ['config', 'set-context', context, `--user=${user}`]) });
  }
  return { changes, notes: context ? [] : [`Use it in a context: kubectl config set-context NAME --user=${user}`] };
}

function dockerPlan(registries: string[]) {
  if (!registries.length) throw usageError('Name the registry: --registry registry.example.com (repeat for more)', 'setup');
  for (const r of registries) {
    if (!/^[a-z0-9.-]+(:\d+)?$/i.test(r)) throw usageError(`"${r}" is not a registry host (as registry.example.com or registry.example.com:5000)`, 'setup');
  }
  const path = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  const config = readDockerConfig(path);
  const helpers = (config.credHelpers ?? {}) as Record<string, string>;
  const missing = registries.filter((r) => helpers[r] !== 'tokenrelay');
  const changes: Change[] = missing.length ? [{
    describe: `set "credHelpers" ${missing.map((r) => `"${r}": "tokenrelay"`).join(', ')} in ${path}`,
    apply: async () => {
      const next = { ...config, credHelpers: { ...helpers, ...Object.fromEntries(missing.map((r) => [r, 'tokenrelay'])) } };
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const temp = `${path}.tmp-${process.pid}`;
      writeFileSync(temp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
      renameSync(temp, path);
    },
  }] : [];
  const notes = [`Token Relay gives the token only to the registries in tokenrelay.docker.registries. Add ${registries.map((r) => `"${r}"`).join(', ')} to it in VS Code's user settings, or to "docker": {"registries": [...]} in your profile in ~/.config/tokenrelay/config.json.`];
  return { changes, notes };
}

/** docker's config as it is; a file that is not a JSON object is named and left alone. */
function readDockerConfig(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CliError(EXIT.error, `${path} is not valid JSON (${(err as Error).message}). Fix it, then run setup again; it was not changed.`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(EXIT.error, `${path} is not a JSON object. Fix it, then run setup again; it was not changed.`);
  return parsed as Record<string, unknown>;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (!err) return resolvePromise();
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${command} is not installed or not on PATH` : String(stderr).trim() || err.message;
      reject(new CliError(EXIT.error, `"${command} ${args.slice(0, 3).join(' ')} …" failed: ${reason}.`));
    });
  });
}
