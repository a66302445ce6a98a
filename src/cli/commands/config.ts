// tokenrelay config set-client-secret: the client secret of a profile's client, read from standard
// input (hidden when typed at a terminal) into the key store that profile uses. Never an argument
// (argv is visible to every user), never an environment variable, never the configuration file.
import { EXIT, exitCodeFor } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, out, parse, printHelp, readStdin, usageError, type Command } from '../common.ts';
import { directHost } from '../connection.ts';

const help = `Usage: ${PROG} config set-client-secret [--profile NAME] [--remove]

Stores the client secret of the profile's client (its issuer and clientId in the configuration
file) in the key store the profile uses (the OS keyring, or the key file you opted in to), for
clients that have one: GitHub Apps, Google desktop clients, confidential clients. The secret is
read from standard input, as one line (typed at a terminal it is not shown); it is never written
to the configuration file and never printed. How it is sent is tokenrelay.clientAuthMethod
("clientAuthMethod" in the profile; default auto).

  printf '%s' "$SECRET" | ${PROG} config set-client-secret --profile work

Options:
  --profile NAME   the configuration file's profile (default: TOKENRELAY_PROFILE, else "default")
  --remove         remove the stored secret instead (the client is then a public client)
  -h, --help       show this help

Exit codes: 0 stored (or removed), 1 error (the key store cannot be used; the message names the
fix), 2 usage (no secret on standard input).`;

export const configCommand: Command = {
  name: 'config',
  summary: 'set-client-secret: keep a client secret in the key store',
  help,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '-h' || sub === '--help') return printHelp(help);
    if (sub !== 'set-client-secret') throw usageError(`unknown config command "${sub}"; the one there is: set-client-secret`, 'config');
    const { values } = parse('config', rest, { profile: { type: 'string' }, remove: { type: 'boolean' } });
    if (values.help) return printHelp(help);
    const secret = values.remove ? undefined : await readSecret();
    if (secret !== undefined && !secret.replace(/\r?\n$/, '')) {
      throw new CliError(EXIT.usage, 'No client secret on standard input. Pipe it in (printf \'%s\' "$SECRET" | tokenrelay config set-client-secret), or use --remove.');
    }
    const done = await directHost().setClientSecretDirectly({ profile: values.profile, secret }).catch((err: unknown) => {
      // The host's readable errors (no such profile, a key store that cannot be used) become exit codes.
      if (err instanceof Error && 'code' in err && typeof err.code === 'string') throw new CliError(exitCodeFor(err.code), err.message);
      throw err;
    });
    await out(secret === undefined
      ? `Removed the client secret of ${done.clientId} at ${done.issuer} (profile "${done.profile}").\n`
      : `Stored the client secret of ${done.clientId} at ${done.issuer} (profile "${done.profile}") in ${done.where}.\n`);
    return EXIT.ok;
  },
};

/** Standard input; at a terminal, one line typed without echo. */
async function readSecret(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return readStdin(false, 8192);
  process.stderr.write('Client secret (not shown): ');
  stdin.setRawMode(true);
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') { stdin.off('data', onData); stdin.pause(); resolve(typed); return; }
          if (ch === '\u0003') { stdin.off('data', onData); stdin.pause(); reject(new CliError(EXIT.usage, 'Cancelled; nothing was stored.')); return; }
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else typed += ch;
        }
      };
      stdin.on('data', onData);
      stdin.resume();
    });
  } finally {
    stdin.setRawMode(false);
    process.stderr.write('\n');
  }
}
