// tokenrelay sign-out: revokes the refresh token at the identity provider (RFC 7009) and signs out
// every window and terminal, through a running window or, with none, from the store itself.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { redactor } from '../../core/redact.ts';
import { PROG, out, parse, printHelp, write, type Command } from '../common.ts';
import { call } from '../connection.ts';

const help = `Usage: ${PROG} sign-out [--account A] [--profile NAME]

Signs out of Token Relay everywhere: the refresh token is revoked at the identity provider (where
it offers RFC 7009 revocation) and deleted, and every window and terminal sharing the session is
signed out.

Options:
  --account A      the account (id or label) to sign out; default: the one tokens go to
  --profile NAME   with no window running: the configuration file's profile (default "default")
  -h, --help       show this help

Exit codes: 0 signed out and revoked (or nobody was signed in), 1 error, or signed out but the
identity provider did not revoke the grant (stderr names its answer), 2 usage, 3 no such account,
4 no window and nothing configured, 6 a Token Relay directory cannot be written.`;

export const signOutCommand: Command = {
  name: 'sign-out',
  summary: 'revoke and sign out everywhere',
  help,
  async run(argv) {
    const { values } = parse('sign-out', argv, { account: { type: 'string' }, profile: { type: 'string' } });
    if (values.help) return printHelp(help);
    const result = await call('sign-out', { account: values.account }, { direct: { profile: values.profile } });
    await out(result.account ? `Signed out ${result.account.label} in every window and terminal.\n` : 'Nobody was signed in.\n');
    if (!result.revocationWarning) return EXIT.ok;
    // The local sign-out happened; the grant at the server may not have ended, and scripts must know.
    await write(process.stderr, `${PROG}: ${redactor.redact(result.revocationWarning)}\n`);
    return EXIT.error;
  },
};
