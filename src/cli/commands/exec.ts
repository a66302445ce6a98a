// tokenrelay exec: runs a command with the token in one environment variable of that child only.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { DEFAULT_EXEC_ENV, ENV_NODE, EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, parse, printHelp, parseSeconds, usageError, type Command } from '../common.ts';
import { call } from '../connection.ts';

const help = `Usage: ${PROG} exec [--env NAME] [--min-valid SECONDS] -- CMD [ARGS...]

Runs CMD with the current access token in the environment variable NAME (default
${DEFAULT_EXEC_ENV}) of that process only; the token is never on a command line.
Example: ${PROG} exec --env GITHUB_TOKEN -- gh api user

Options:
  --env NAME            environment variable to set (default ${DEFAULT_EXEC_ENV})
  --min-valid SECONDS   the token must stay valid at least this long when CMD starts
  -h, --help            show this help

Exit code: CMD's own exit status once it ran (128+N when killed by signal N); 126/127 when CMD
cannot be executed / is not found; otherwise 1 error, 2 usage, 3 not signed in, 4 no Token Relay
window of this user, 5 identity provider unreachable, 6 a Token Relay directory cannot be written.`;

export const execCommand: Command = {
  name: 'exec',
  summary: 'run a command with the token in its environment',
  help,
  async run(argv) {
    const { options, command } = split(argv);
    const { values } = parse('exec', options, { env: { type: 'string' }, 'min-valid': { type: 'string' } });
    if (values.help) return printHelp(help);
    const name = values.env ?? DEFAULT_EXEC_ENV;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw usageError(`--env needs a variable name, got "${name}"`, 'exec');
    if (command.length === 0) throw usageError('exec needs a command after --', 'exec');
    const grant = await call('token', { minValidSeconds: parseSeconds(values['min-valid'], '--min-valid', 'exec') });
    const env: NodeJS.ProcessEnv = { ...process.env, [name]: grant.accessToken };
    // The launcher ran us on VS Code's Electron as plain node; CMD must not inherit that switch.
    if (env[ENV_NODE] && env[ENV_NODE] === process.execPath) delete env.ELECTRON_RUN_AS_NODE;
    return run(command, env);
  },
};

/** Options up to "--" or the first non-option; the command after. */
function split(argv: string[]): { options: string[]; command: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return { options: argv.slice(0, i), command: argv.slice(i + 1) };
    if (!a.startsWith('-')) return { options: argv.slice(0, i), command: argv.slice(i) };
    if ((a === '--env' || a === '--min-valid') && i + 1 < argv.length) i++;
  }
  return { options: argv, command: [] };
}

function run(command: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    // Ctrl-C / Ctrl-\ reach the whole foreground group, the child included: only outlive them to
    // report its status. A signal sent to this process alone (kill, hang-up) is passed on.
    // Installed before the child starts: it may run (and be signalled) before spawn() returns here.
    let child: ReturnType<typeof spawn> | undefined;
    const ignore = () => undefined;
    const forward = (signal: NodeJS.Signals) => () => { child?.kill(signal); };
    const handlers = [['SIGINT', ignore], ['SIGQUIT', ignore], ['SIGTERM', forward('SIGTERM')], ['SIGHUP', forward('SIGHUP')]] as const;
    for (const [s, h] of handlers) process.on(s, h);
    child = spawn(command[0], command.slice(1), { stdio: 'inherit', env });
    const done = () => { for (const [s, h] of handlers) process.off(s, h); };
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      if (err.code === 'ENOENT') reject(new CliError(127, `Command not found: ${command[0]}. Check the name and PATH.`));
      else if (err.code === 'EACCES') reject(new CliError(126, `Cannot execute ${command[0]} (permission denied). Make it executable.`));
      else reject(new CliError(EXIT.error, `Cannot start ${command[0]} (${err.code ?? err.message}).`));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0));
    });
  });
}
