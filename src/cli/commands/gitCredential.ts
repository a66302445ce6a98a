// tokenrelay git-credential: git's credential-helper protocol on stdin/stdout.
// get -> username + password (the current access token) + password_expiry_utc; store -> no-op;
// erase with a password -> that token is reported as rejected (refreshed unless already replaced).
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { PROG, out, parse, printHelp, readStdin, usageError, type Command } from '../common.ts';
import { call } from '../connection.ts';

const help = `Usage: ${PROG} git-credential get|store|erase

A git credential helper (https://git-scm.com/docs/gitcredentials). Configure it for the hosts that
accept your identity provider's tokens, for example:

  git config --global credential.https://example.com.helper '!tokenrelay git-credential'

  get     answers username (the tokenrelay.git.username setting, default "oauth2") and
          password = the current access token, with password_expiry_utc
  store   does nothing (the window keeps the session)
  erase   with a password: git's server rejected that token; the window refreshes it unless
          another process already did, so the next "get" returns a working token

Other actions are ignored, as the protocol requires.

Options:
  -h, --help   show this help`;

export const gitCredentialCommand: Command = {
  name: 'git-credential',
  summary: 'git credential helper (get|store|erase)',
  help,
  async run(argv) {
    const { values, positionals } = parse('git-credential', argv, {}, true);
    if (values.help) return printHelp(help);
    if (positionals.length !== 1) throw usageError('git-credential needs one action: get, store or erase', 'git-credential');
    const action = positionals[0];
    const input = parseAttributes(await readStdin(true));
    switch (action) {
      case 'get': {
        const cred = await call('git-credential', { protocol: input.protocol, host: input.host, path: input.path });
        if (/[\n\0]/.test(cred.username + cred.password)) throw usageError('the window answered a credential git cannot carry');
        await out(`username=${cred.username}\npassword=${cred.password}\npassword_expiry_utc=${cred.passwordExpiryUtc}\n`);
        return EXIT.ok;
      }
      case 'erase':
        if (input.password) await call('report-rejected', { token: input.password });
        return EXIT.ok;
      default:
        return EXIT.ok; // store, and actions from future git versions: nothing to do
    }
  },
};

function parseAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) attributes[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return attributes;
}
