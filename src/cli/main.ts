// The `tokenrelay` CLI: talks to the VS Code window that started this terminal over the socket
// named by TOKENRELAY_SOCK (unset: a live window of this user); with none, to the store itself
// through the one-shot host (dist/host.js, loaded only then). Bundled by esbuild into
// dist/cli.js; it depends only on the terminal protocol, the JSON client and node builtins, so it
// starts about as fast as node itself.
import { EXIT } from '../ipc/tokenProtocol.ts';
import { CliError, PROG, printHelp, usageError } from './common.ts';
import { version } from '../../package.json';
import { redactor } from '../core/redact.ts';
import { commands, commandNames, findCommand } from './commandTable.ts';
import { suggestionFor } from './didYouMean.ts';

const help = `Usage: ${PROG} <command> [options]

Access tokens from Token Relay's one sign-in, shared by every VS Code window and terminal of this
user. A running window or agent ("${PROG} agent") answers when there is one; with neither (cron,
SSH, a plain terminal) this process reads the per-user store itself, through the same lock and
spend claims, so every refresh token is still presented once.

Commands:
${commandTable()}

Every command takes --profile NAME (or TOKENRELAY_PROFILE): one of your identity providers, as
named in tokenrelay.profiles or the configuration file (default "default").

Run "${PROG} <command> --help" for a command's options, "${PROG} version" for the version.

Exit codes:
  0  ok
  1  error (including HTTP status >= 400 from fetch)
  2  usage error
  3  not signed in, or needs sign-in - sign in from the Accounts menu or run "${PROG} sign-in"
  4  no Token Relay window or agent runs and nothing is configured for use without one - run
     "${PROG} sign-in --issuer URL --client-id ID", or open a VS Code window with Token Relay
  5  the identity provider is unreachable (the session is kept; try again later)
  6  a Token Relay directory cannot be written (read-only, full, permission denied) - the
     message names the directory and the fix`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${help}\n`);
    return EXIT.usage;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    const topic = name === 'help' && rest[0] ? findCommand(rest[0]) : undefined;
    if (topic) return printHelp((await topic.load()).help);
    return printHelp(help);
  }
  if (name === '-V' || name === '--version' || name === 'version') return printHelp(version);
  const entry = findCommand(name);
  if (!entry) {
    const guess = suggestionFor(name, [...commandNames(), 'version', 'help']);
    throw usageError(`Unknown command "${name}"${guess ? `. Did you mean "${guess}"?` : ''}`);
  }
  return (await entry.load()).run(rest);
}

/** Names and summaries, aligned on the longest name however long it is. */
function commandTable(): string {
  const width = Math.max(...commandNames().map((n) => n.length)) + 2;
  return Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`).join('\n');
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof CliError) {
      // Messages may quote the window or a server: stderr gets them only through the redactor.
      process.stderr.write(`${PROG}: ${redactor.redact(err.message)}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`${PROG}: unexpected error: ${redactor.redact((err as Error)?.message ?? String(err))}. Please report it.\n`);
      process.exitCode = EXIT.error;
    }
  },
);
