// The `tokenrelay` CLI: talks to the VS Code window that started this terminal over the socket
// named by TOKENRELAY_SOCK (unset: a live window of this user); with none, to the store itself
// through the one-shot host (dist/direct.js, loaded only then). Bundled by esbuild into
// dist/cli.js; it depends only on the terminal protocol, the JSON client and node builtins, so it
// starts about as fast as node itself.
import { EXIT } from '../ipc/tokenProtocol.ts';
import { CliError, PROG, printHelp, usageError, type Command } from './common.ts';
import { version } from '../../package.json';
import { redactor } from '../core/redact.ts';

type Loader = () => Promise<Command>;

// Each command loads only its own module (exec's child_process, fetch's HTTP client stay unloaded).
const commands: Record<string, { summary: string; load: Loader }> = {
  token: { summary: 'print the current access token', load: async () => (await import('./commands/token.ts')).tokenCommand },
  status: { summary: 'show the session state (never a token)', load: async () => (await import('./commands/status.ts')).statusCommand },
  fetch: { summary: 'call an API with the token; refresh and retry once on 401', load: async () => (await import('./commands/fetch.ts')).fetchCommand },
  exec: { summary: 'run a command with the token in its environment', load: async () => (await import('./commands/exec.ts')).execCommand },
  'git-credential': { summary: 'git credential helper (get|store|erase)', load: async () => (await import('./commands/gitCredential.ts')).gitCredentialCommand },
  'kubectl-credential': { summary: 'kubectl exec credential plugin (ExecCredential JSON)', load: async () => (await import('./commands/kubectlCredential.ts')).kubectlCredentialCommand },
  'sign-in': { summary: 'sign in (in a window, or in this terminal)', load: async () => (await import('./commands/signIn.ts')).signInCommand },
  'sign-out': { summary: 'revoke and sign out everywhere', load: async () => (await import('./commands/signOut.ts')).signOutCommand },
  config: { summary: 'set-client-secret: keep a client secret in the key store', load: async () => (await import('./commands/config.ts')).configCommand },
  'mcp-proxy': { summary: 'stdio MCP server forwarding to a remote MCP server with the token', load: async () => (await import('./commands/mcpProxy.ts')).mcpProxyCommand },
};

const help = `Usage: ${PROG} <command> [options]

Access tokens from Token Relay's one sign-in, shared by every VS Code window and terminal of this
user. A running window answers when there is one; with VS Code closed (cron, SSH, a plain
terminal) this process reads the per-user store itself, through the same lock and spend claims,
so every refresh token is still presented once.

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`).join('\n')}

Run "${PROG} <command> --help" for a command's options.

Exit codes:
  0  ok
  1  error (including HTTP status >= 400 from fetch)
  2  usage error
  3  not signed in, or sign-in needed - sign in from the Accounts menu or run "${PROG} sign-in"
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
    if (name === 'help' && rest[0] && commands[rest[0]]) return printHelp((await commands[rest[0]].load()).help);
    return printHelp(help);
  }
  if (name === '-V' || name === '--version') return printHelp(version);
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) throw usageError(`Unknown command "${name}"`);
  return (await entry.load()).run(rest);
}

// `tokenrelay token | head -c 10`: a closed pipe is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
});

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
