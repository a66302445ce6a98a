// The MCP servers Token Relay offers to VS Code's own MCP client (src/vscode/mcpDefinitions.ts):
// every concrete URL in tokenrelay.mcp.servers (profile "default") and in each profile's
// "mcp": {"servers": [...]} (or "mcp.servers") of tokenrelay.profiles. Each becomes a stdio server
// that runs `tokenrelay mcp-proxy URL [--profile P]`, so the token is fetched, and refreshed after a
// 401, by the proxy; no definition ever holds a token. vscode-free, so it is unit-tested directly.
import { parseMcpServerEntry } from './mcpAccess.ts';
import { readMcpServerEntries, type SettingsSource } from './settings.ts';
import { DEFAULT_PROFILE, PROFILE_NAME, PROFILES_SETTING, profileSources } from './profiles.ts';
import { describeError } from '../core/errors.ts';

export { DEFAULT_PROFILE };

export interface McpServerOffer {
  /** The URL mcp-proxy forwards to: the entry as the user wrote it (trimmed, no trailing slash). */
  url: string;
  profile: string;
}

/**
 * The entries that can be started, in settings order, without duplicates: each profile's list, an
 * entry naming a profile ({"url", "profile"}) offered with that one. `skip` hears why something is
 * left out (a broken list, a wildcard host, a profile name that is not allowed); the settings
 * validation reports a broken list itself, so this only says that it is not offered.
 */
export function mcpServerEntries(get: SettingsSource, skip: (why: string) => void = () => {}): McpServerOffer[] {
  const out: McpServerOffer[] = [];
  const named = get('profiles');
  if (named !== undefined && named !== null && (typeof named !== 'object' || Array.isArray(named))) {
    skip(`${PROFILES_SETTING} is not an object; none of its MCP servers is offered to VS Code.`);
  }
  for (const { name, get: source } of profileSources(get)) {
    const where = name === DEFAULT_PROFILE ? 'tokenrelay.mcp.servers' : `${PROFILES_SETTING}.${name}.mcp.servers`;
    // A profile name goes into argv after --profile: only names that can never read as an option.
    if (!PROFILE_NAME.test(name)) {
      skip(`${PROFILES_SETTING} has a profile named ${JSON.stringify(name)}, which is not allowed; its MCP servers are not offered to VS Code.`);
      continue;
    }
    let entries;
    try {
      entries = readMcpServerEntries(source) ?? [];
    } catch (err) {
      skip(`${describeError(err)} (${where}: none of it is offered to VS Code)`);
      continue;
    }
    for (const { value, profile } of entries) {
      const entry = parseMcpServerEntry(value)!; // validated by readMcpServerEntries
      if (entry.host.startsWith('*')) {
        skip(`${where} entry "${value}" names a wildcard host: it allows tokens for those servers but cannot be started; list the server's own URL to offer it to VS Code.`);
        continue;
      }
      const offer = { url: `${entry.protocol}//${entry.host}${entry.path}`, profile: profile ?? name };
      if (!out.some((o) => o.url === offer.url && o.profile === offer.profile)) out.push(offer);
    }
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
