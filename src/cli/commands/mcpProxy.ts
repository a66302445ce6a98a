// tokenrelay mcp-proxy URL: a stdio MCP server for any MCP client, forwarding to a remote
// Streamable-HTTP MCP server with the window's access token. This module only checks the
// arguments; the relay (and the MCP SDK it needs) is a separate bundle loaded here at run time.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, parse, printHelp, usageError, type Command } from '../common.ts';
import { DEFAULT_MAX_ANSWER_MIB } from '../mcp/answerCap.ts';
import type { runRelay } from '../mcp/relay.ts';
import { parseTargetUrl } from '../targetUrl.ts';

const help = `Usage: ${PROG} mcp-proxy URL [--scopes S] [--account A] [--allow-http] [--max-answer-mib N]

A stdio MCP server that forwards every message to the remote Streamable-HTTP MCP server at URL
with "Authorization: Bearer <current token>". Configure it as the command of a stdio MCP server in
your MCP client (VS Code mcp.json, Claude Code, Cursor). When the server answers 401, the token is
reported as rejected (the window refreshes it unless another process already did) and the request
is retried once. Diagnostics go to standard error; the token never does.

Only a server listed in the tokenrelay.mcp.servers setting (VS Code user settings, or "mcp":
{"servers": [...]} in the configuration file) gets the token: an origin such as
https://mcp.example.com or a URL prefix. Any other URL is refused at start, before anything is
sent, since an MCP configuration in a repository is code from that repository. When the server
publishes RFC 9728 protected-resource metadata, it must name this URL and your issuer.

Options:
  --scopes S     scopes the token must carry (space- or comma-separated); each must be covered by
                 the configured tokenrelay scopes
  --account A    account id or label (default: the signed-in account)
  --allow-http   allow plain http:// to a host other than localhost (sends the token unencrypted)
  --max-answer-mib N
                 the most one answer (a JSON body, or one event of a stream) may hold, in MiB
                 (default ${DEFAULT_MAX_ANSWER_MIB}); a larger one is dropped as it arrives and its
                 request gets an error naming this limit, while the session goes on
  -h, --help     show this help

Exit codes: 0 the client closed the connection, 1 error, 2 usage.`;

/** Next to dist/cli.js in the package: the SDK stays out of every other command's start-up. */
const RELAY_BUNDLE = 'mcp-proxy.js';

export const mcpProxyCommand: Command = {
  name: 'mcp-proxy',
  summary: 'stdio MCP server forwarding to a remote MCP server with the token',
  help,
  async run(argv) {
    const { values, positionals } = parse('mcp-proxy', argv, {
      scopes: { type: 'string' },
      account: { type: 'string' },
      'allow-http': { type: 'boolean' },
      'max-answer-mib': { type: 'string' },
    }, true);
    if (values.help) return printHelp(help);
    if (positionals.length !== 1) throw usageError(positionals.length ? 'mcp-proxy takes exactly one URL' : 'mcp-proxy needs the URL of the MCP server', 'mcp-proxy');
    const server = parseTargetUrl(positionals[0], 'mcp-proxy', values['allow-http'] === true);
    const scopes = values.scopes?.split(/[\s,]+/).filter(Boolean);
    if (values.scopes !== undefined && !scopes?.length) throw usageError('--scopes needs at least one scope', 'mcp-proxy');
    const mib = values['max-answer-mib'] === undefined ? DEFAULT_MAX_ANSWER_MIB : Number(values['max-answer-mib']);
    if (!Number.isFinite(mib) || mib <= 0 || mib > 4096) throw usageError(`--max-answer-mib must be a number of MiB above 0 and at most 4096, got "${values['max-answer-mib']}"`, 'mcp-proxy');
    // Run from the sources (tsx), the relay module itself.
    const bundle = __filename.endsWith('.ts') ? join(__dirname, '..', 'mcp', 'relay.ts') : join(__dirname, RELAY_BUNDLE);
    if (!existsSync(bundle)) throw new CliError(EXIT.error, `${bundle} is missing next to the CLI. Reinstall the Token Relay extension, or run "npm run build" in a checkout.`);
    // A computed path: esbuild leaves this require alone instead of bundling the SDK into dist/cli.js.
    const relay = require(bundle) as { runRelay: typeof runRelay };
    return relay.runRelay({ server, scopes, account: values.account, maxAnswerBytes: Math.floor(mib * 1024 * 1024) });
  },
};
