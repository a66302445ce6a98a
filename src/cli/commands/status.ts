// tokenrelay status: account, issuer, expiry, state; never a token.
import { EXIT, type StatusResponse } from '../../ipc/tokenProtocol.ts';
import { PROG, out, parse, printHelp, type Command } from '../common.ts';
import { call, usedSocket } from '../connection.ts';
import { redactor } from '../../core/redact.ts';

const help = `Usage: ${PROG} status [--json]

Shows the Token Relay session: state, account, issuer, token expiry, the last refresh, and who
answered (a window, an agent, or this process from the store). Never prints a token.

Options:
  --json       one JSON object on standard output
  -h, --help   show this help

Exit codes: 0 signed in (also while refreshing or offline with a usable session), 3 signed out
or sign-in needed, 1 error, 2 usage, 4 no window or agent runs and nothing is configured.`;

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the session state (never a token)',
  help,
  async run(argv) {
    const { values } = parse('status', argv, { json: { type: 'boolean' } });
    if (values.help) return printHelp(help);
    const answer = await call('status', {}, { timeoutMs: 15_000 });
    // The window redacts too; this process applies the same redactor to what it prints.
    const status: StatusResponse = { ...answer, error: redactor.redact(answer.error) };
    const code = status.state === 'signed-out' || status.state === 'needs-sign-in' ? EXIT.notSignedIn : EXIT.ok;
    if (values.json) {
      await out(`${JSON.stringify({ ...status, socket: usedSocket?.path, socketFallback: usedSocket?.fallback, vscodeTerminal: !usedSocket?.found })}\n`);
    } else {
      await out(render(status));
    }
    return code;
  },
};

function render(s: StatusResponse): string {
  const now = Date.now();
  const rows: [string, string][] = [['state', describeState(s)]];
  if (s.account) rows.push(['account', s.account.label === s.account.id ? s.account.label : `${s.account.label} (${s.account.id})`]);
  if (s.issuer) rows.push(['issuer', s.issuer]);
  if (s.expiresAt) rows.push(['token expires', `${new Date(s.expiresAt).toISOString()} (${relative(s.expiresAt - now)})`]);
  if (s.lastRefresh) {
    rows.push(['last refresh', `${new Date(s.lastRefresh.at).toISOString()} by ${s.lastRefresh.byThisWindow ? 'this window' : `another process (pid ${s.lastRefresh.pid})`}`]);
  }
  if (s.error) rows.push(['problem', s.error]);
  rows.push(['git username', s.gitUsername]);
  if (s.host === 'direct') rows.push(['answered by', 'this process, from the store (no window or agent is running)']);
  else {
    rows.push([s.host === 'agent' ? 'agent' : 'window', `pid ${s.windowPid}${usedSocket?.fallback ? ' (this terminal\'s own window is gone; using another live window)' : ''}`]);
    if (usedSocket?.found) rows.push(['terminal', `not a VS Code terminal (TOKENRELAY_SOCK is not set); answered by the socket ${usedSocket.path}`]);
  }
  if (s.profile) rows.push(['profile', s.profile]);
  if (s.store) rows.push(['store', s.store]);
  if (s.keyStore) rows.push(['key store', s.keyStore]);
  if (s.socketNotice) rows.push(['sockets', s.socketNotice]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join('');
}

function describeState(s: StatusResponse): string {
  switch (s.state) {
    case 'signed-out': return 'signed out - sign in from the Accounts menu, or run "tokenrelay sign-in"';
    case 'needs-sign-in': return 'sign-in needed - sign in again from the Accounts menu, or run "tokenrelay sign-in"';
    case 'offline': return 'offline - the identity provider is unreachable; the session is kept and retried';
    case 'degraded': return 'degraded - the slot directory cannot be written; the session is kept in memory and saved once it can';
    default: return s.state;
  }
}

function relative(ms: number): string {
  const abs = Math.abs(ms);
  const text = abs < 90_000 ? `${Math.round(abs / 1000)} s` : abs < 5_400_000 ? `${Math.round(abs / 60_000)} min` : `${Math.round(abs / 3_600_000)} h`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}
