// tokenrelay sign-in: asks the window to show its sign-in, and waits for it.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { PROG, out, parse, parseSeconds, printHelp, type Command } from '../common.ts';
import { call } from '../connection.ts';

const help = `Usage: ${PROG} sign-in [--force] [--timeout SECONDS]

Asks this VS Code window to start its sign-in (the browser opens from the window), and waits
until it completes. Does nothing when already signed in, unless --force.

Options:
  --force             sign in even when already signed in (e.g. to switch account)
  --timeout SECONDS   give up waiting after this long (default 600)
  -h, --help          show this help

Exit codes: 0 signed in, 1 sign-in cancelled or failed, 2 usage, 4 no Token Relay window of
this user, 5 identity provider unreachable, 6 a Token Relay directory cannot be written.`;

export const signInCommand: Command = {
  name: 'sign-in',
  summary: 'ask the window to sign in, and wait',
  help,
  async run(argv) {
    const { values } = parse('sign-in', argv, { force: { type: 'boolean' }, timeout: { type: 'string' } });
    if (values.help) return printHelp(help);
    const timeoutS = parseSeconds(values.timeout, '--timeout', 'sign-in') ?? 600;
    if (process.stderr.isTTY) process.stderr.write('Waiting for the sign-in in VS Code (a browser window may open)...\n');
    const result = await call('sign-in', { force: values.force === true }, { timeoutMs: Math.max(1, timeoutS) * 1000 });
    const who = result.account ? ` as ${result.account.label}` : '';
    if (result.alreadySignedIn) await out(`Already signed in${who}. Use --force to sign in again.\n`);
    else await out(`Signed in${who}.\n`);
    return result.state === 'signed-out' || result.state === 'needs-sign-in' ? EXIT.notSignedIn : EXIT.ok;
  },
};
