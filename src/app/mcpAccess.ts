// Which MCP servers `tokenrelay mcp-proxy` may give the access token to: only those the user listed
// in tokenrelay.mcp.servers (an origin, or a URL prefix), none while it is unset. Why: an MCP client
// runs the commands a repository's .vscode/mcp.json or .mcp.json names, so the URL after mcp-proxy
// is code from the repository, not the user's choice. Hosts match as in tokenrelay.git.hosts.
import { hostMatches, isGitHostPattern } from './gitAccess.ts';

export const MCP_SERVERS_SETTING = 'tokenrelay.mcp.servers';

/** What an entry names: a scheme, a host pattern (`host[:port]`, `*.domain`) and a path prefix ('' for the whole origin). */
interface McpServerEntry {
  protocol: string;
  host: string;
  path: string;
}

/** The entry `text` names, or undefined when it is not an http(s) origin or URL prefix. */
export function parseMcpServerEntry(text: string): McpServerEntry | undefined {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username || url.password || url.search || url.hash || !isGitHostPattern(url.host)) return undefined;
  return { protocol: url.protocol, host: url.host, path: url.pathname.replace(/\/+$/, '') };
}

/** A path prefix matches whole segments: "/mcp" covers "/mcp" and "/mcp/x", never "/mcp-other". */
function covers(entry: McpServerEntry, url: URL): boolean {
  if (url.protocol !== entry.protocol || !hostMatches(entry.host, url.host.toLowerCase())) return false;
  return !entry.path || url.pathname === entry.path || url.pathname.startsWith(`${entry.path}/`);
}

/** Why `url` gets no token, or undefined when a listed entry covers it. Entries are validated (readMcpServers). */
export function mcpRefusal(url: URL, servers: readonly string[] | undefined): string | undefined {
  const where = `${url.origin}${url.pathname}`;
  const howToAdd = `add "${url.origin}" (or a URL prefix such as "${where}") to ${MCP_SERVERS_SETTING} in your VS Code user settings, or to "mcp": {"servers": […]} in the tokenrelay configuration file, if that server should receive your access token`;
  if (!servers?.length) return `${MCP_SERVERS_SETTING} lists no MCP server, so ${where} gets no token; ${howToAdd}`;
  if (servers.some((s) => { const entry = parseMcpServerEntry(s); return !!entry && covers(entry, url); })) return undefined;
  return `${where} is not in ${MCP_SERVERS_SETTING} (${servers.join(', ')}); ${howToAdd}`;
}
