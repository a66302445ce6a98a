// Validates the `tokenrelay.*` settings values: either a usable configuration or one readable
// problem that names the setting and the fix (never a stack trace). Where the values come from is
// the caller's business (src/vscode/settings.ts reads them from VS Code).
import { TokenRelayError } from '../core/errors.ts';
import { skipsDiscovery, validateConfig, type Endpoints, type OAuthConfig } from '../oauth/serverConfig.ts';
import { parseRedirectUri } from '../oauth/redirectUri.ts';
import { parseClientAuthMethod } from '../oauth/clientAuth.ts';
import { identityOf, type ConfigIdentity } from './slots.ts';
import { DEFAULT_DOCKER_USERNAME, registryOf } from './dockerAccess.ts';
import { isGitHostPattern } from './gitAccess.ts';
import { MCP_SERVERS_SETTING, parseMcpServerEntry } from './mcpAccess.ts';
import { CLUSTERS_SETTING } from './clusterAccess.ts';
import { PROFILE_NAME } from '../ipc/tokenProtocol.ts';

/**
 * An entry of a destination list (git hosts, docker registries, MCP servers, clusters): a string,
 * or `{ "<field>": "…", "profile": "work" }`, which sends that destination to another profile's token.
 */
export interface ListEntry {
  value: string;
  /** The profile the entry names; absent: the profile whose list it is. */
  profile?: string;
}

/** The entries that are `owner`'s: its plain ones and those naming it (not those naming another profile). */
export function entriesOf(entries: readonly ListEntry[], owner: string): string[] {
  return entries.filter((e) => e.profile === undefined || e.profile === owner).map((e) => e.value);
}

/** Turns a list's items into entries; an object that is not `{ <field>, profile }` is the setting's named problem. */
function listEntries(items: unknown[], setting: string, field: string): { value: unknown; profile?: string }[] {
  return items.map((item) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return { value: typeof item === 'string' ? item.trim() : item };
    const entry = item as Record<string, unknown>;
    const profile = entry.profile;
    if (typeof profile !== 'string' || !PROFILE_NAME.test(profile) || Object.keys(entry).some((k) => k !== field && k !== 'profile')) {
      throw problem(`${setting} contains ${JSON.stringify(item)}, which is neither a ${field} nor {"${field}": …, "profile": "<name>"}.`,
        `Write the ${field} as a string, or as {"${field}": "…", "profile": "work"} to give it that profile's token.`);
    }
    return { value: typeof entry[field] === 'string' ? (entry[field] as string).trim() : entry[field], profile };
  });
}

/** Every `tokenrelay.*` setting (without the prefix), as package.json contributes them. */
export const SETTING_KEYS = ['issuer', 'clientId', 'scopes', 'resource', 'endpoints', 'redirectUri', 'clientAuthMethod', 'signInFlow', 'keyStore', 'refreshSkewSeconds',
  'refreshTokenReuseGraceSeconds', 'git.username', 'git.hosts', 'docker.username', 'docker.registries', 'mcp.servers', 'kubernetes.clusters', 'profiles'];

export const DEFAULT_SCOPES = ['openid', 'profile', 'offline_access'];
/** The defaults where nothing is discovered: a server named only by its endpoints issues no id_token unless asked. */
export const PLAIN_DEFAULT_SCOPES = ['offline_access'];
export const DEFAULT_SKEW_SECONDS = 60;
export const SIGN_IN_FLOWS = ['auto', 'loopback', 'deviceCode'] as const;
export type SignInFlow = (typeof SIGN_IN_FLOWS)[number];
const ENDPOINT_KEYS = ['authorization', 'token', 'deviceAuthorization', 'revocation', 'userinfo', 'introspection'] as const;

export interface Settings {
  oauth: OAuthConfig;
  identity: ConfigIdentity;
  signInFlow: SignInFlow;
  refreshSkewMs: number;
  /** The IdP's refresh-token reuse grace; 0 = strict (a dead refresher's token is never re-sent). */
  reuseGraceMs: number;
}

export type SettingsResult =
  | { ok: true; settings: Settings }
  /** `unconfigured`: nothing set yet (a first run), as opposed to a wrong value. */
  | { ok: false; problem: TokenRelayError; unconfigured: boolean };

/** The settings source: `get(key)` (without the `tokenrelay.` prefix) returns the effective value or undefined. */
export type SettingsSource = (key: string) => unknown;

function problem(message: string, fix: string): TokenRelayError {
  return new TokenRelayError('config', message, fix);
}

function optionalString(get: SettingsSource, key: string): string | undefined {
  const value = get(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw problem(`tokenrelay.${key} must be a string.`, `Set tokenrelay.${key} to text in your settings.`);
  return value.trim() || undefined;
}

function readEndpoints(get: SettingsSource): Endpoints | undefined {
  const value = get('endpoints');
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw problem('tokenrelay.endpoints must be an object.',
      `Set it to an object with the keys ${ENDPOINT_KEYS.join(', ')}, or remove it and use tokenrelay.issuer.`);
  }
  const out: Partial<Record<(typeof ENDPOINT_KEYS)[number], string>> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!(ENDPOINT_KEYS as readonly string[]).includes(key)) {
      throw problem(`tokenrelay.endpoints.${key} is not a known endpoint.`, `Use only ${ENDPOINT_KEYS.join(', ')}.`);
    }
    if (raw === undefined || raw === null || raw === '') continue;
    if (typeof raw !== 'string') throw problem(`tokenrelay.endpoints.${key} must be a URL string.`, 'Set it to the https URL of that endpoint.');
    out[key as (typeof ENDPOINT_KEYS)[number]] = raw.trim();
  }
  if (Object.keys(out).length === 0) return undefined;
  return { ...out, token: out.token ?? '' };
}

/** undefined: not set, so the defaults apply (see scopesFor in src/oauth/serverConfig.ts). */
function readScopes(get: SettingsSource): string[] | undefined {
  const value = get('scopes');
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) {
    throw problem('tokenrelay.scopes must be a list of strings.', `For example ${JSON.stringify(DEFAULT_SCOPES)}.`);
  }
  const scopes = [...new Set((value as string[]).map((s) => s.trim()).filter(Boolean))];
  if (!scopes.length) return undefined; // VS Code reports an unset list as []
  const bad = scopes.find((s) => /\s|"|\\/.test(s));
  if (bad) throw problem(`tokenrelay.scopes contains "${bad}", which is not a valid scope.`, 'List each scope as its own string, without spaces.');
  return scopes;
}

function readFlow(get: SettingsSource): SignInFlow {
  const value = get('signInFlow') ?? 'auto';
  if (!(SIGN_IN_FLOWS as readonly unknown[]).includes(value)) {
    throw problem(`tokenrelay.signInFlow "${String(value)}" is not a sign-in flow.`, 'Use "auto", "loopback" or "deviceCode".');
  }
  return value as SignInFlow;
}

function readSkew(get: SettingsSource): number {
  const value = get('refreshSkewSeconds') ?? DEFAULT_SKEW_SECONDS;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw problem(`tokenrelay.refreshSkewSeconds must be a number of seconds, 0 or more (got ${JSON.stringify(value)}).`,
      `Set it to, for example, ${DEFAULT_SKEW_SECONDS}.`);
  }
  return value * 1000;
}

/** A server-side grace longer than a day is a misreading of the setting, not a grace. */
const MAX_GRACE_SECONDS = 86_400;

function readGrace(get: SettingsSource): number {
  const value = get('refreshTokenReuseGraceSeconds') ?? 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_GRACE_SECONDS) {
    throw problem(`tokenrelay.refreshTokenReuseGraceSeconds must be a number of seconds from 0 to ${MAX_GRACE_SECONDS} (got ${JSON.stringify(value)}).`,
      'Set it to your identity provider\'s refresh-token reuse grace (Okta: the grace period, Auth0: the reuse interval), or 0 when it has none.');
  }
  return value * 1000;
}

function readResource(get: SettingsSource): string | undefined {
  const resource = optionalString(get, 'resource');
  if (resource === undefined) return undefined;
  try {
    new URL(resource);
  } catch {
    throw problem(`tokenrelay.resource "${resource}" is not an absolute URI.`,
      'Set it to the resource or audience URI your API expects, for example https://api.example.com.');
  }
  return resource;
}

/** tokenrelay.redirectUri: a fixed loopback redirect (validated here, so a typo is reported before any sign-in). */
function readRedirectUri(get: SettingsSource): string | undefined {
  const value = optionalString(get, 'redirectUri');
  return value === undefined ? undefined : parseRedirectUri(value).uri;
}

/** What sets one destination list apart from another: its key, its entries' field, what is valid, and the words for a problem. */
interface ListSpec {
  key: string;
  setting: string;
  field: string;
  valid(value: string): boolean;
  notList: [message: string, fix: string];
  bad(quoted: string): [message: string, fix: string];
}

/** A destination list's entries, each checked (ListEntry); undefined when unset. The first problem is the setting's named one. */
function readList(get: SettingsSource, spec: ListSpec): ListEntry[] | undefined {
  const value = get(spec.key);
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw problem(...spec.notList);
  const entries = listEntries(value, spec.setting, spec.field);
  const bad = entries.find((e) => typeof e.value !== 'string' || !spec.valid(e.value));
  if (bad !== undefined) throw problem(...spec.bad(JSON.stringify(bad.value)));
  return entries as ListEntry[];
}

const GIT_HOSTS: ListSpec = {
  key: 'git.hosts', setting: 'tokenrelay.git.hosts', field: 'host', valid: isGitHostPattern,
  notList: ['tokenrelay.git.hosts must be a list of host names.', 'For example ["git.example.com", "*.example.org", "127.0.0.1:8080"], or remove it.'],
  bad: (quoted) => [`tokenrelay.git.hosts contains ${quoted}, which is not a host[:port] pattern; the git helper answers no host until it is fixed.`,
    'Use a host name ("git.example.com"), a host and port ("git.example.com:8443") or "*.example.com" for its subdomains, without a scheme or path.'],
};
const CLUSTERS_EXAMPLE = 'For example ["k8s.example.com:6443", "*.clusters.example.com"]';
const CLUSTERS: ListSpec = {
  key: 'kubernetes.clusters', setting: CLUSTERS_SETTING, field: 'host', valid: isGitHostPattern,
  notList: [`${CLUSTERS_SETTING} must be a list of API server hosts.`, `${CLUSTERS_EXAMPLE}, or remove it.`],
  bad: (quoted) => [`${CLUSTERS_SETTING} contains ${quoted}, which is not a host[:port] pattern; kubectl gets no token until it is fixed.`, `${CLUSTERS_EXAMPLE}: a host name, a host and port, or "*.example.com" for its subdomains, without a scheme or path.`],
};
const MCP_EXAMPLE = 'For example ["https://mcp.example.com", "https://tools.example.com/team-a/mcp"]';
const MCP_SERVERS: ListSpec = {
  key: 'mcp.servers', setting: MCP_SERVERS_SETTING, field: 'url', valid: (url) => parseMcpServerEntry(url) !== undefined,
  notList: [`${MCP_SERVERS_SETTING} must be a list of MCP server origins or URL prefixes.`, `${MCP_EXAMPLE}, or remove it.`],
  bad: (quoted) => [`${MCP_SERVERS_SETTING} contains ${quoted}, which is not an http(s) origin or URL prefix; mcp-proxy serves no server until it is fixed.`,
    `${MCP_EXAMPLE}: a scheme and host ("*.example.com" for its subdomains), an optional port and path, no query, fragment or user name.`],
};
const DOCKER_REGISTRIES: ListSpec = {
  key: 'docker.registries', setting: 'tokenrelay.docker.registries', field: 'registry', valid: (entry) => registryOf(entry)?.https === true,
  notList: ['tokenrelay.docker.registries must be a list of registry hosts.', 'For example ["registry.example.com", "registry.example.com:5000"].'],
  bad: (quoted) => [`tokenrelay.docker.registries contains ${quoted}, which is not an https registry.`,
    'List registry hosts as docker names them, for example "registry.example.com" or "registry.example.com:5000" (https only).'],
};

/**
 * tokenrelay.git.hosts: the hosts the git helper answers for (undefined: any https host), without
 * the entries naming another profile. Read on each git request, apart from the sign-in settings:
 * a bad entry stops only the git helper.
 */
export function readGitHosts(get: SettingsSource): string[] | undefined {
  const entries = readGitHostEntries(get);
  return entries && entriesOf(entries, 'default');
}

/** tokenrelay.git.hosts with each entry's profile (ListEntry). */
export function readGitHostEntries(get: SettingsSource): ListEntry[] | undefined {
  return readList(get, GIT_HOSTS);
}

/**
 * tokenrelay.kubernetes.clusters: the API server hosts kubectl-credential answers for (undefined:
 * any https server). Read on each request; a bad entry stops only the kubectl plugin.
 */
export function readKubernetesClusters(get: SettingsSource): string[] | undefined {
  const entries = readKubernetesClusterEntries(get);
  return entries && entriesOf(entries, 'default');
}

/** tokenrelay.kubernetes.clusters with each entry's profile (ListEntry). */
export function readKubernetesClusterEntries(get: SettingsSource): ListEntry[] | undefined {
  return readList(get, CLUSTERS);
}

/**
 * tokenrelay.mcp.servers: the MCP servers `mcp-proxy` gives the token to (undefined or empty: none).
 * Read on each mcp-proxy start, apart from the sign-in settings: a bad entry stops only mcp-proxy.
 */
export function readMcpServers(get: SettingsSource): string[] | undefined {
  const entries = readMcpServerEntries(get);
  return entries && entriesOf(entries, 'default');
}

/** tokenrelay.mcp.servers with each entry's profile (ListEntry). */
export function readMcpServerEntries(get: SettingsSource): ListEntry[] | undefined {
  return readList(get, MCP_SERVERS);
}

/** Validates everything; the first problem found is reported. */
export function parseSettings(get: SettingsSource): SettingsResult {
  try {
    const issuer = optionalString(get, 'issuer');
    const endpoints = readEndpoints(get);
    const clientId = optionalString(get, 'clientId');
    if (!issuer && !endpoints && !clientId) {
      return {
        ok: false,
        unconfigured: true,
        problem: problem('Token Relay is not configured yet.',
          'Set tokenrelay.issuer (or tokenrelay.endpoints) and tokenrelay.clientId in your settings.'),
      };
    }
    const scopes = readScopes(get);
    const oauth: OAuthConfig = { issuer, endpoints, clientId: clientId ?? '', scopes: scopes ?? [], resource: readResource(get) };
    const redirectUri = readRedirectUri(get);
    if (redirectUri) oauth.redirectUri = redirectUri;
    const clientAuthMethod = parseClientAuthMethod(get('clientAuthMethod'));
    if (clientAuthMethod !== 'auto') oauth.clientAuthMethod = clientAuthMethod;
    if (!scopes) {
      oauth.scopes = [...(skipsDiscovery(oauth) ? PLAIN_DEFAULT_SCOPES : DEFAULT_SCOPES)];
      oauth.defaultScopes = true;
    }
    validateConfig(oauth);
    if (skipsDiscovery(oauth) && !endpoints?.authorization && !endpoints?.deviceAuthorization) {
      throw problem('tokenrelay.endpoints has no way to sign in.',
        'Set tokenrelay.endpoints.authorization (browser sign-in) or tokenrelay.endpoints.deviceAuthorization (device code).');
    }
    const settings: Settings = { oauth, identity: identityOf(oauth), signInFlow: readFlow(get), refreshSkewMs: readSkew(get), reuseGraceMs: readGrace(get) };
    return { ok: true, settings };
  } catch (err) {
    const error = err instanceof TokenRelayError ? err : problem(`The Token Relay settings could not be read (${String(err)}).`, 'Check the tokenrelay settings.');
    return { ok: false, problem: error, unconfigured: false };
  }
}

// ---- tokenrelay.docker.*: what `docker-credential-tokenrelay` answers --------------------------

export interface DockerSettings {
  /** The Username docker gets (the Secret is the access token). */
  username: string;
  /** Registry hosts (`host[:port]`) the helper answers; none when unset, so no registry gets a token by accident. */
  registries: string[];
}

/** Validates tokenrelay.docker.username and tokenrelay.docker.registries (`owner`'s entries); throws a `config` problem naming the setting. */
export function parseDockerSettings(get: SettingsSource, owner = 'default'): DockerSettings {
  const username = optionalString(get, 'docker.username') ?? DEFAULT_DOCKER_USERNAME;
  return { username, registries: [...new Set(entriesOf(readDockerRegistryEntries(get), owner))] };
}

/** tokenrelay.docker.registries as registry hosts (unset: none), with each entry's profile (ListEntry). */
export function readDockerRegistryEntries(get: SettingsSource): ListEntry[] {
  return (readList(get, DOCKER_REGISTRIES) ?? []).map((e) => ({ ...e, value: registryOf(e.value)!.host }));
}
