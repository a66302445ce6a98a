// tokenrelay status: account, issuer, expiry, state; never a token.
import { EXIT, type StatusResponse } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, out, parse, printHelp, type Command } from '../common.ts';
import { call, usedSocket } from '../connection.ts';
import { redactor } from '../../core/redact.ts';

const help = `Usage: ${PROG} status [--json]

Shows the Token Relay session: state, account, issuer, token expiry, the last refresh, and who
answered (a window, an agent, or this process from the store). Never prints a token.

Options:
  --json       one JSON object on standard output, also when it fails ({"ok": false,
               "exitCode", "error"}); times are RFC 3339
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
    let answer: StatusResponse;
    try {
      answer = await call('status', {}, { timeoutMs: 15_000 });
    } catch (err) {
      // Scripts parse stdout: a failure is JSON there too, and the message still goes to stderr.
      if (values.json && err instanceof CliError) await out(`${JSON.stringify({ ok: false, exitCode: err.exitCode, error: redactor.redact(err.message) })}\n`);
      throw err;
    }
    // The window redacts too; this process applies the same redactor to what it prints.
    const status: StatusResponse = { ...answer, error: redactor.redact(answer.error), lastSignInError: redactor.redact(answer.lastSignInError) };
    const code = status.state === 'signed-out' || status.state === 'needs-sign-in' ? EXIT.notSignedIn : EXIT.ok;
    if (values.json) {
      await out(`${JSON.stringify(jsonOf(status))}\n`);
    } else {
      await out(render(status));
    }
    return code;
  },
};

/** The --json object: the window's answer with RFC 3339 times (as the text and kubectl show them). */
function jsonOf(s: StatusResponse) {
  return {
    ok: true,
    ...s,
    expiresAt: iso(s.expiresAt),
    lastRefresh: s.lastRefresh && { ...s.lastRefresh, at: iso(s.lastRefresh.at) },
    socket: usedSocket?.path,
    socketFallback: usedSocket?.fallback,
    vscodeTerminal: !usedSocket?.found,
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function render(s: StatusResponse): string {
  const now = Date.now();
  const rows: [string, string][] = [['state', describeState(s)]];
  if (s.account) rows.push(['account', s.account.label === s.account.id ? s.account.label : `${s.account.label} (${s.account.id})`]);
  if (s.issuer) rows.push(['issuer', s.issuer]);
  if (s.expiresAt) rows.push(['token expires', `${iso(s.expiresAt)} (${relative(s.expiresAt - now)})`]);
  if (s.scopes?.length) rows.push(['scopes', s.scopes.join(' ')]);
  if (s.lastRefresh) {
    rows.push(['last refresh', `${iso(s.lastRefresh.at)} by ${s.lastRefresh.byThisWindow ? 'this window' : `another process (pid ${s.lastRefresh.pid})`}`]);
  }
  if (s.error) rows.push(['problem', s.error]);
  if (s.lastSignInError) rows.push(['last sign-in', `failed: ${s.lastSignInError}`]);
  rows.push(['git username', s.gitUsername]);
  if (s.host === 'direct') rows.push(['answered by', 'this process, from the store (no window or agent is running)']);
  else {
    rows.push([s.host === 'agent' ? 'agent' : 'window', `pid ${s.hostPid ?? s.windowPid}${usedSocket?.fallback ? ' (this terminal\'s own window is gone; using another live window)' : ''}`]);
    if (usedSocket?.found) rows.push(['terminal', `not a VS Code terminal (TOKENRELAY_SOCK is not set); answered by the socket ${usedSocket.path}`]);
  }
  if (s.profile) {
    const others = (s.profiles ?? []).filter((p) => p !== s.profile);
    rows.push(['profile', others.length ? `${s.profile} (also served: ${others.join(', ')}; pick one with --profile NAME)` : s.profile]);
  }
  if (s.store) rows.push(['store', s.store]);
  if (s.keyStore) rows.push(['key store', s.keyStore]);
  if (s.socketNotice) rows.push(['sockets', s.socketNotice]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join('');
}

function describeState(s: StatusResponse): string {
  switch (s.state) {
    case 'signed-out': return 'signed out - sign in from the Accounts menu, or run "tokenrelay sign-in"';
    case 'needs-sign-in': return 'needs sign-in - sign in again from the Accounts menu, or run "tokenrelay sign-in"';
    case 'offline': return 'offline - the identity provider is unreachable; the session is kept and retried';
    case 'degraded': return 'degraded - the slot directory cannot be written; the session is kept in memory and saved once it can';
    // The same words as the cases above: "signed in", never the JSON identifier "signed-in".
    default: return s.state.replace(/-/g, ' ');
  }
}

function relative(ms: number): string {
  const abs = Math.abs(ms);
  const text = abs < 90_000 ? `${Math.round(abs / 1000)} s` : abs < 5_400_000 ? `${Math.round(abs / 60_000)} min` : `${Math.round(abs / 3_600_000)} h`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}
