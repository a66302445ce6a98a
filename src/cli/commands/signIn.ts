// tokenrelay sign-in: asks a running window to show its sign-in and waits; with no window (or with
// any of the options below) this process signs in itself, in the terminal, into the same store.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { PROG, out, parse, parseSeconds, printHelp, usageError, type Command } from '../common.ts';
import { call } from '../connection.ts';

const help = `Usage: ${PROG} sign-in [--profile NAME] [--issuer URL --client-id ID [--scopes S]]
                        [--device | --browser] [--json] [--no-qr] [--force] [--timeout SECONDS]

Signs in to Token Relay. When a VS Code window with Token Relay runs (and none of --profile,
--issuer, --client-id, --device, --browser, --json is given), that window shows its sign-in.
Otherwise this terminal signs in itself: with a device code where no browser can open here (SSH,
no DISPLAY), printing the URL and the code (and, on a terminal, a QR code of the URL), through
the browser otherwise. The session lands in the one per-user store, so every window and terminal
shares it. Does nothing when already signed in, unless --force.
With TOKENRELAY_KEY_STORE=file (a machine without an OS keyring), --issuer saves that key store
into the profile too, so later commands and cron jobs find the key without the variable.

Options:
  --profile NAME      the configuration file's profile to use or create (default "default")
  --issuer URL        the identity provider; with --client-id, saved into the profile
  --client-id ID      the OAuth client id registered for Token Relay
  --scopes S          space-separated scopes to save (default: openid profile offline_access)
  --device            sign in with a device code (RFC 8628), e.g. over SSH
  --browser           sign in through the browser on this machine
  --json              print one JSON line per event (the device code, then the result)
  --no-qr             print the device code's URL without a QR code
  --force             sign in even when already signed in (e.g. to switch account)
  --timeout SECONDS   give up waiting after this long (default 600)
  -h, --help          show this help

Exit codes: 0 signed in, 1 sign-in cancelled or failed, 2 usage, 4 no window and nothing
configured, 5 identity provider unreachable, 6 a Token Relay directory cannot be written.`;

export const signInCommand: Command = {
  name: 'sign-in',
  summary: 'sign in (in a window, or in this terminal)',
  help,
  async run(argv) {
    const { values } = parse('sign-in', argv, {
      force: { type: 'boolean' }, timeout: { type: 'string' }, profile: { type: 'string' }, issuer: { type: 'string' },
      'client-id': { type: 'string' }, scopes: { type: 'string' }, device: { type: 'boolean' }, browser: { type: 'boolean' }, json: { type: 'boolean' },
      'no-qr': { type: 'boolean' },
    });
    if (values.help) return printHelp(help);
    const timeoutS = parseSeconds(values.timeout, '--timeout', 'sign-in') ?? 600;
    if (values.device && values.browser) throw usageError('use either --device or --browser', 'sign-in');
    if ((values.issuer === undefined) !== (values['client-id'] === undefined)) throw usageError('--issuer and --client-id go together', 'sign-in');
    if (values.scopes !== undefined && values.issuer === undefined) throw usageError('--scopes is saved with --issuer and --client-id', 'sign-in');
    const json = values.json === true;
    const here = [values.profile, values.issuer, values.device, values.browser, values.json].some((v) => v !== undefined);
    // A key store chosen for this sign-in (TOKENRELAY_KEY_STORE=file) is where K goes: the profile
    // remembers it, so a later shell or cron job without the variable still finds K.
    const keyStore = process.env.TOKENRELAY_KEY_STORE || undefined;
    const saveProfile = values.issuer !== undefined
      ? { issuer: values.issuer, clientId: values['client-id'], ...(values.scopes !== undefined ? { scopes: values.scopes.split(/\s+/).filter(Boolean) } : {}), ...(keyStore ? { keyStore } : {}) }
      : undefined;
    if (!here && process.stderr.isTTY) process.stderr.write('Waiting for the sign-in (a browser window may open)...\n');
    const result = await call('sign-in', { force: values.force === true }, {
      timeoutMs: Math.max(1, timeoutS) * 1000,
      direct: {
        only: here, profile: values.profile, saveProfile,
        signIn: { flow: values.device ? 'device' : values.browser ? 'browser' : 'auto', json, qr: values['no-qr'] !== true, timeoutMs: Math.max(1, timeoutS) * 1000 },
      },
    });
    const account = result.account ? { id: result.account.id, label: result.account.label } : undefined;
    if (json) await out(`${JSON.stringify({ signedIn: !result.alreadySignedIn || undefined, alreadySignedIn: result.alreadySignedIn || undefined, state: result.state, account })}\n`);
    else if (result.alreadySignedIn) await out(`Already signed in${account ? ` as ${account.label}` : ''}. Use --force to sign in again.\n`);
    else await out(`Signed in${account ? ` as ${account.label}` : ''}.\n`);
    return result.state === 'signed-out' || result.state === 'needs-sign-in' ? EXIT.notSignedIn : EXIT.ok;
  },
};
