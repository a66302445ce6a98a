// The MCP servers Token Relay offers to VS Code's own MCP client (src/vscode/mcpDefinitions.ts):
// every concrete URL in tokenrelay.mcp.servers (profile "default") and in each profile's
// "mcp": {"servers": [...]} (or "mcp.servers") of tokenrelay.profiles. Each becomes a stdio server
// that runs `tokenrelay mcp-proxy URL [--profile P]`, so the token is fetched, and refreshed after a
// 401, by the proxy; no definition ever holds a token. vscode-free, so it is unit-tested directly.
import { parseMcpServerEntry } from './mcpAccess.ts';
import type { SettingsSource } from './settings.ts';

export const DEFAULT_PROFILE = 'default';

export interface McpServerOffer {
  /** The URL mcp-proxy forwards to: the entry as the user wrote it (trimmed, no trailing slash). */
  url: string;
  profile: string;
}

/** A profile name goes into argv after --profile: a plain word, never something read as an option. */
const PROFILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * The entries that can be started, in settings order, without duplicates. `skip` hears why an
 * entry is left out (not a URL, a wildcard host, a bad profile); the settings validation reports
 * a malformed list itself, so this only says that the entry is not offered.
 */
export function mcpServerEntries(get: SettingsSource, skip: (why: string) => void = () => {}): McpServerOffer[] {
  const out: McpServerOffer[] = [];
  const add = (list: unknown, profile: string, where: string) => {
    if (list === undefined || list === null) return;
    if (!Array.isArray(list)) return skip(`${where} is not a list; no MCP server of it is offered to VS Code.`);
    for (const raw of list) {
      const text = typeof raw === 'string' ? raw.trim() : undefined;
      const entry = text ? parseMcpServerEntry(text) : undefined;
      if (!text || !entry) {
        skip(`${where} entry ${JSON.stringify(raw)} is not an http(s) origin or URL prefix; it is not offered to VS Code.`);
        continue;
      }
      if (entry.host.startsWith('*')) {
        skip(`${where} entry "${text}" names a wildcard host: it allows tokens for those servers but cannot be started; list the server's own URL to offer it to VS Code.`);
        continue;
      }
      const url = `${entry.protocol}//${entry.host}${entry.path}`;
      if (!out.some((o) => o.url === url && o.profile === profile)) out.push({ url, profile });
    }
  };
  add(get('mcp.servers'), DEFAULT_PROFILE, 'tokenrelay.mcp.servers');
  const profiles = get('profiles');
  if (profiles === undefined || profiles === null) return out;
  if (typeof profiles !== 'object' || Array.isArray(profiles)) {
    skip('tokenrelay.profiles is not an object; none of its MCP servers is offered to VS Code.');
    return out;
  }
  for (const [name, value] of Object.entries(profiles as Record<string, unknown>)) {
    if (!PROFILE_NAME.test(name)) {
      skip(`tokenrelay.profiles has a profile named ${JSON.stringify(name)}, which is not a plain name; its MCP servers are not offered to VS Code.`);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const settings = value as Record<string, unknown>;
    const mcp = settings.mcp;
    const nested = typeof mcp === 'object' && mcp !== null && !Array.isArray(mcp) ? (mcp as Record<string, unknown>).servers : undefined;
    add(nested ?? settings['mcp.servers'], name, `tokenrelay.profiles.${name}.mcp.servers`);
  }
  return out;
}

/** What VS Code shows: host and path, and the profile when it is not the default one. Unique per offer, so the server id VS Code derives from it is stable. */
export function mcpServerLabel(offer: McpServerOffer): string {
  const url = new URL(offer.url);
  const where = `${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  return offer.profile === DEFAULT_PROFILE ? where : `${where} (${offer.profile})`;
}

/** The CLI arguments after the CLI's entry script: `mcp-proxy URL [--profile P]`. */
export function mcpProxyArgs(offer: McpServerOffer): string[] {
  return ['mcp-proxy', offer.url, ...(offer.profile === DEFAULT_PROFILE ? [] : ['--profile', offer.profile])];
}
