// tokenrelay token: prints only the current access token, for $(tokenrelay token).
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, out, parse, parseResource, parseSeconds, printHelp, readStdin, usageError, type Command } from '../common.ts';
import { call } from '../connection.ts';

/** How the token is printed: bare, as an HTTP header line (`curl -H @-`), or as a JSON headers object (headersHelper). */
const FORMATS = {
  token: (t: string) => `${t}\n`,
  header: (t: string) => `Authorization: Bearer ${t}\n`,
  'json-headers': (t: string) => `${JSON.stringify({ Authorization: `Bearer ${t}` })}\n`,
} as const;
type Format = keyof typeof FORMATS;
const FORMAT_NAMES = Object.keys(FORMATS).join(', ');

const help = `Usage: ${PROG} token [--scopes S] [--min-valid SECONDS] [--rejected -|--rejected=TOKEN] [--account A] [--resource URL] [--format F]

Prints the current access token of this VS Code window's sign-in, and nothing else, for use as
$(${PROG} token). The window refreshes it when needed; terminals never refresh on their own.

Options:
  --scopes S            scopes the token must carry (space- or comma-separated); each must be
                        covered by the configured tokenrelay scopes
  --min-valid SECONDS   the token must stay valid at least this long (refreshes earlier if needed)
  --rejected -          your server answered 401 to the token read from standard input: refresh
                        it unless it was already replaced, then print the current token
  --rejected=TOKEN      the same with the token on the command line; always with "=", since a
                        token may begin with "-" (visible to other processes in the process
                        table; prefer "-")
  --account A           account id or label (default: the signed-in account)
  --resource URL        the API the token is for (RFC 8707 resource indicator, e.g.
                        https://api.example.com; default: tokenrelay.resource); each API's
                        token comes from the same sign-in and is cached apart
  --format F            token (default): the token alone; header: "Authorization: Bearer <token>"
                        (for curl -H @-); json-headers: {"Authorization":"Bearer <token>"} (for
                        headers-helper commands of MCP clients)
  -h, --help            show this help

Exit codes: 0 ok, 1 error, 2 usage, 3 not signed in, 4 no Token Relay window of this
user, 5 identity provider unreachable, 6 a Token Relay directory cannot be written.`;

export const tokenCommand: Command = {
  name: 'token',
  summary: 'print the current access token',
  help,
  async run(argv) {
    const { values } = parse('token', argv, {
      scopes: { type: 'string' },
      'min-valid': { type: 'string' },
      rejected: { type: 'string' },
      account: { type: 'string' },
      resource: { type: 'string' },
      format: { type: 'string' },
    });
    if (values.help) return printHelp(help);
    const format = (values.format ?? 'token') as Format;
    if (!Object.hasOwn(FORMATS, format)) throw usageError(`Unknown --format "${values.format}"; use one of ${FORMAT_NAMES}`, 'token');
    const scopes = values.scopes?.split(/[\s,]+/).filter(Boolean);
    if (values.scopes !== undefined && !scopes?.length) throw usageError('--scopes needs at least one scope', 'token');
    let rejected = values.rejected;
    if (rejected === '-') {
      rejected = (await readStdin()).trim().split(/\r?\n/)[0]?.trim();
      if (!rejected) throw usageError('--rejected - expects the rejected token on standard input', 'token');
    } else if (rejected !== undefined && rejected.trim() === '') {
      throw usageError('--rejected needs a token (or "-" to read it from standard input)', 'token');
    }
    const grant = await call('token', {
      scopes,
      minValidSeconds: parseSeconds(values['min-valid'], '--min-valid', 'token'),
      rejected: rejected?.trim(),
      account: values.account,
      resource: parseResource(values.resource, 'token'),
    });
    if (format !== 'token' && /[\r\n]/.test(grant.accessToken)) throw new CliError(EXIT.error, 'The window answered a token that cannot be carried in an HTTP header.');
    await out(FORMATS[format](grant.accessToken));
    return EXIT.ok;
  },
};
