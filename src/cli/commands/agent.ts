// tokenrelay agent: a headless Token Relay host for machines or hours with no VS Code window. The
// work is in dist/host.js (src/agent), loaded only for this command.
import { join, resolve } from 'node:path';
import { EXIT, exitCodeFor } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, out, parse, parseSeconds, printHelp, usageError, type Command } from '../common.ts';

const DEFAULT_IDLE_SECONDS = 15 * 60;

const help = `Usage: ${PROG} agent [--foreground | --start] [--stay | --idle-timeout SECONDS] [--profile NAME]
       ${PROG} agent --print-systemd-unit | --print-launchd-plist

Runs a Token Relay agent: a host with no window that serves every ${PROG} command and helper
(token, fetch, exec, git, kubectl, docker, MCP) over the same socket a VS Code window serves, and
refreshes the token ahead of expiry so no job waits on a refresh. Windows and agents are peers:
each shares the one session in the per-user store. One agent runs per store.

Other commands do not start an agent: with no window or agent running they read the store
themselves. Start one at login (systemd, launchd) or on demand with --start.

Options:
  --foreground          run in this process until idle or stopped (the default; for systemd/launchd)
  --start               start an agent in the background and return once it answers; says so
                        when one already runs. It logs to agent.log in the store
  --stay                never exit when idle
  --idle-timeout S      exit after S seconds without a request (default ${DEFAULT_IDLE_SECONDS})
  --profile NAME        the profile requests without --profile get (default "default"); the
                        agent serves every profile of the configuration file
  --print-systemd-unit  print a systemd user unit that runs "${PROG} agent --stay"
  --print-launchd-plist print a launchd agent that runs "${PROG} agent --stay"
  -h, --help            show this help

SIGTERM, SIGINT or SIGHUP stop the agent cleanly: a refresh in flight is answered and saved first.

Exit codes: 0 stopped (also when another agent already runs), 1 error, 2 usage, 4 nothing is
configured for use without a window - run "${PROG} sign-in --issuer URL --client-id ID".`;

type AgentModule = typeof import('../../agent/agentMain.ts');

export const agentCommand: Command = {
  name: 'agent',
  summary: 'run a headless host: serves terminals with no window, refreshes ahead of expiry',
  help,
  async run(argv) {
    const { values } = parse('agent', argv, {
      foreground: { type: 'boolean' }, start: { type: 'boolean' }, stay: { type: 'boolean' }, 'idle-timeout': { type: 'string' },
      profile: { type: 'string' }, 'print-systemd-unit': { type: 'boolean' }, 'print-launchd-plist': { type: 'boolean' },
    });
    if (values.help) return printHelp(help);
    const modes = ['foreground', 'start', 'print-systemd-unit', 'print-launchd-plist'].filter((m) => values[m as keyof typeof values]);
    if (modes.length > 1) throw usageError(`use only one of ${modes.map((m) => `--${m}`).join(', ')}`, 'agent');
    if (values.stay && values['idle-timeout'] !== undefined) throw usageError('use either --stay or --idle-timeout', 'agent');
    const idleSeconds = parseSeconds(values['idle-timeout'], '--idle-timeout', 'agent');
    if (idleSeconds === 0) throw usageError('--idle-timeout must be more than 0 seconds (use --stay to never exit when idle)', 'agent');
    const agent = loadAgent();
    const cliScript = resolve(process.argv[1]);
    if (values['print-systemd-unit']) return out(agent.systemdUnit(agent.unitPaths(cliScript))).then(() => EXIT.ok);
    if (values['print-launchd-plist']) return out(agent.launchdPlist(agent.unitPaths(cliScript))).then(() => EXIT.ok);
    try {
      if (values.start) {
        const pass = [...(values.stay ? ['--stay'] : []), ...(idleSeconds !== undefined ? ['--idle-timeout', String(idleSeconds)] : []),
          ...(values.profile !== undefined ? ['--profile', values.profile] : [])];
        const r = await agent.startDetached(cliScript, pass);
        await out(r.started
          ? `Started the Token Relay agent (pid ${r.record.pid}) on ${r.record.socket}; it logs to ${r.logFile}.\n`
          : `A Token Relay agent already runs (pid ${r.record.pid}) on ${r.record.socket}.\n`);
        return EXIT.ok;
      }
      const code = await agent.runForeground({ profile: values.profile, idleTimeoutMs: values.stay ? undefined : (idleSeconds ?? DEFAULT_IDLE_SECONDS) * 1000 });
      process.exit(code); // nothing is left to wait for: a keyring helper still closing must not hold the exit up
    } catch (err) {
      throw asCliError(err);
    }
  },
};

function loadAgent(): AgentModule {
  const module = __filename.endsWith('.ts') ? join(__dirname, '..', 'hostBundle.ts') : join(__dirname, 'host.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(module) as typeof import('../hostBundle.ts')).agent;
}

/** The agent's errors as the CLI reports them: the message names the fix; never a stack trace. */
function asCliError(err: unknown): unknown {
  if (err instanceof CliError || !(err instanceof Error)) return err;
  if (err.name === 'NoDirectConfiguration') return new CliError(EXIT.noSocket, `The agent cannot start: ${err.message.replace('without one', 'without a VS Code window')}`);
  if (err.name === 'AgentStartError') return new CliError((err as Error & { exitCode: number }).exitCode, err.message);
  if ('code' in err && typeof err.code === 'string' && err.name === 'TokenRelayError') return new CliError(exitCodeFor(err.code), err.message);
  return err;
}
