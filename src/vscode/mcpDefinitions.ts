// VS Code's own MCP client (chat agents) reads an MCP server's headers once per server start and
// never refreshes after a 401. So every server of tokenrelay.mcp.servers (and of each profile) is
// offered to it as a stdio server running the bundled `tokenrelay mcp-proxy URL`, which adds the
// current token to every request and has it refreshed, exactly once, after a 401. A definition
// holds a command, arguments and the window's socket path: never a token.
//
// vscode.lm.registerMcpServerDefinitionProvider is API from VS Code 1.101 on; engines.vscode allows
// 1.100, where it is missing or a proposed API that throws for an extension without the proposal.
// So it is feature-detected, and a throwing call counts as missing (the types are declared here:
// @types/vscode is 1.100).
import * as vscode from 'vscode';
import type { Logger } from '../core/types.ts';
import { describeError } from '../core/errors.ts';
import { cliInvocation } from '../app/launcher.ts';
import { mcpProxyArgs, mcpServerEntries, mcpServerLabel } from '../app/mcpDefinitions.ts';
import { ENV_SOCKET } from '../ipc/tokenProtocol.ts';
import { SECTION, userSettings } from './settings.ts';

/** package.json contributes.mcpServerDefinitionProviders[0].id. */
export const MCP_PROVIDER_ID = 'tokenrelay';

/** The shapes of VS Code 1.101's MCP API this uses. */
interface McpStdioDefinition { label: string; command: string; args: string[]; env: Record<string, string | number | null> }
type McpStdioDefinitionClass = new (label: string, command: string, args?: string[], env?: Record<string, string | number | null>, version?: string) => McpStdioDefinition;
interface McpProvider {
  onDidChangeMcpServerDefinitions: vscode.Event<void>;
  provideMcpServerDefinitions(token: vscode.CancellationToken): McpStdioDefinition[];
  resolveMcpServerDefinition(server: McpStdioDefinition, token: vscode.CancellationToken): McpStdioDefinition;
}
type Register = (id: string, provider: McpProvider) => vscode.Disposable;

export interface McpDefinitionsOptions {
  /** The folder holding dist/cli.js (the extension's). */
  extensionPath: string;
  /** The window's terminal socket, when the terminal bridge started (a path; the CLI finds another live window without it). */
  socketPath: () => string | undefined;
  /** The Node runtime (VS Code's own). */
  runtime?: string;
  log: Logger;
}

/** Registers the provider where VS Code has the API; elsewhere only says why there is none. */
export function registerMcpDefinitions(options: McpDefinitionsOptions): vscode.Disposable {
  const api = vscode as unknown as { lm?: { registerMcpServerDefinitionProvider?: Register }; McpStdioServerDefinition?: McpStdioDefinitionClass };
  const register = api.lm?.registerMcpServerDefinitionProvider;
  const Definition = api.McpStdioServerDefinition;
  const missing = (why = '') => {
    options.log.info(`This VS Code (${vscode.version}) has no MCP server definition API (VS Code 1.101 or later)${why}: tokenrelay.mcp.servers is not offered to its MCP client; configure "tokenrelay mcp-proxy URL" in mcp.json instead.`);
    return { dispose() {} };
  };
  if (typeof register !== 'function' || typeof Definition !== 'function') return missing();
  const changed = new vscode.EventEmitter<void>();
  const runtime = options.runtime ?? process.execPath;
  let said = '';
  const provider: McpProvider = {
    onDidChangeMcpServerDefinitions: changed.event,
    provideMcpServerDefinitions() {
      const skipped: string[] = [];
      const offers = mcpServerEntries(userSettings(), (why) => skipped.push(why));
      // Once per change of what is skipped, not at every call (VS Code asks often).
      if (skipped.join('\n') !== said) for (const why of skipped) options.log.warn(why);
      said = skipped.join('\n');
      const socket = options.socketPath();
      return offers.map((offer) => {
        const run = cliInvocation(options.extensionPath, runtime, mcpProxyArgs(offer));
        return new Definition(mcpServerLabel(offer), run.command, run.args, { ...run.env, ...(socket ? { [ENV_SOCKET]: socket } : {}) });
      });
    },
    // Nothing to add at start: mcp-proxy gets the token itself, so none is ever placed in a definition.
    resolveMcpServerDefinition: (server) => server,
  };
  let registration: vscode.Disposable;
  try {
    registration = register(MCP_PROVIDER_ID, provider);
  } catch (err) {
    changed.dispose();
    return missing(` (${describeError(err)})`);
  }
  const watch = vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(SECTION)) changed.fire();
  });
  options.log.info('MCP servers of tokenrelay.mcp.servers are offered to VS Code\'s MCP client as "tokenrelay mcp-proxy" servers');
  return { dispose() { watch.dispose(); registration.dispose(); changed.dispose(); } };
}
