// tokenrelay git-credential: git's credential-helper protocol on stdin/stdout.
// get -> username + password (the current access token) + password_expiry_utc; store -> no-op;
// erase with a password -> that token is reported as rejected (refreshed unless already replaced).
// The window decides which protocol and host get the token (src/app/gitAccess.ts); this side only
// refuses input git would never send. A refusal prints nothing on stdout, so git moves on to its
// next helper or prompt, and says why on stderr.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { PROG, out, parse, printHelp, readStdin, usageError, write, type Command } from '../common.ts';
import { call } from '../connection.ts';

const help = `Usage: ${PROG} git-credential get|store|erase

A git credential helper (https://git-scm.com/docs/gitcredentials). Configure it only for the hosts
that accept your identity provider's tokens, for example:

  git config --global credential.https://git.example.com.helper '!tokenrelay git-credential'

and list them in the tokenrelay.git.hosts setting. Do not set it as a global credential.helper.

  get     answers username (the tokenrelay.git.username setting, default "oauth2") and
          password = the current access token, with password_expiry_utc; only for https
          (plain http only to 127.0.0.1, ::1 or localhost) and, when tokenrelay.git.hosts is
          set, only for those hosts
  store   does nothing (the window keeps the session)
  erase   with a password: git's server rejected that token; the window refreshes it unless
          another process already did, so the next "get" returns a working token (a password
          that is not the current token is ignored)

Input without protocol or host, or with lines that are not key=value, gets no answer and an
error on standard error. Other actions are ignored, as the protocol requires.

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
    if (action !== 'get' && action !== 'erase') return EXIT.ok; // store, and actions from future git versions: nothing to do
    const input = parseAttributes(await readStdin(true));
    if (typeof input === 'string') return refuse(input);
    const { protocol, host } = input;
    if (!protocol || !host) return refuse(`git passed no ${protocol ? 'host' : 'protocol'}; run this as git's credential helper, which sends protocol= and host= lines`);
    if (action === 'erase' && !input.password) return EXIT.ok;
    const answer = await call('git-credential', { protocol, host, path: input.path, erase: action === 'erase' ? input.password : undefined });
    if (answer.declined) {
      await write(process.stderr, `${PROG}: ${action === 'get' ? 'no token for git' : 'not reporting that password as rejected'}: ${answer.declined}.\n`);
      return EXIT.ok; // a normal "not mine": git asks its next helper or the user
    }
    if (action === 'erase') return EXIT.ok;
    const { username = '', password = '', passwordExpiryUtc } = answer;
    if (!username || !password || /[\n\0]/.test(username + password)) throw usageError('the window answered a credential git cannot carry');
    await out(`username=${username}\npassword=${password}\npassword_expiry_utc=${passwordExpiryUtc}\n`);
    return EXIT.ok;
  },
};

async function refuse(why: string): Promise<number> {
  await write(process.stderr, `${PROG}: git-credential: ${why}. No credential was given.\n`);
  return EXIT.usage;
}

/** git's key=value lines (https://git-scm.com/docs/git-credential#IOFMT), or what is wrong with them. */
function parseAttributes(text: string): Record<string, string> | string {
  const attributes: Record<string, string> = Object.create(null);
  for (const [i, line] of text.split('\n').entries()) {
    const bare = line.replace(/\r$/, '');
    if (bare === '') continue;
    const eq = bare.indexOf('=');
    const key = bare.slice(0, eq);
    if (eq <= 0 || !/^[A-Za-z0-9_.-]+(\[\])?$/.test(key)) return `line ${i + 1} of the input is not a key=value attribute`;
    attributes[key] = bare.slice(eq + 1);
  }
  if (attributes.url && !attributes.protocol && !attributes.host) {
    try {
      const url = new URL(attributes.url);
      attributes.protocol = url.protocol.replace(/:$/, '');
      attributes.host = url.host;
    } catch {
      return 'the url attribute is not a URL';
    }
  }
  return attributes;
}
