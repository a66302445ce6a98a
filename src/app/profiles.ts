// Named provider configurations ("profiles"), as VS Code's settings hold them: the top-level
// tokenrelay.* settings are the profile "default", and tokenrelay.profiles holds the others, each
// with the same keys and the same validation (parseSettings). One broken profile stops only itself.
//
// A consumer picks a profile with the scope `profile:<name>` (VS Code's convention for a
// provider's own scopes, like microsoft-authentication's VSCODE_TENANT:); it is never sent to the IdP.
import { TokenRelayError } from '../core/errors.ts';
import { PROFILE_NAME } from '../ipc/tokenProtocol.ts';
import { identityOf, type ConfigIdentity } from './slots.ts';
import { parseSettings, type SettingsResult, type SettingsSource } from './settings.ts';

export const DEFAULT_PROFILE = 'default';
export const PROFILES_SETTING = 'tokenrelay.profiles';
export const PROFILE_SCOPE_PREFIX = 'profile:';
export { PROFILE_NAME };
const NAME_RULE = 'Use letters, digits, ".", "_" or "-" (at most 64, starting with a letter or digit).';

export interface ProfileConfig {
  name: string;
  result: SettingsResult;
  /** The profile's own settings (git hosts, docker registries, MCP servers, clusters), read on each request. */
  get: SettingsSource;
}

/** `get(key)` over a profile object: a dotted name (`git.hosts`) is read as written or nested (`git: { hosts }`). */
export function profileSource(profile: Record<string, unknown>): SettingsSource {
  return (key) => {
    if (Object.hasOwn(profile, key)) return profile[key];
    const [head, tail] = key.split('.', 2);
    const value = Object.hasOwn(profile, head) ? profile[head] : undefined;
    return tail === undefined ? value : isObject(value) && Object.hasOwn(value, tail) ? value[tail] : undefined;
  };
}

export interface ProfileSource {
  name: string;
  get: SettingsSource;
}

/**
 * Each profile's settings source, "default" first, without validating any: what the terminal
 * routes read a destination list from at each request (readProfiles validates on a settings change).
 */
export function profileSources(get: SettingsSource): ProfileSource[] {
  const value = get('profiles');
  const named = isObject(value) ? Object.entries(value).map(([name, raw]) => ({ name, get: sourceOf(raw) })) : [];
  return [{ name: DEFAULT_PROFILE, get }, ...named];
}

/** A profile that is not an object has no settings. */
function sourceOf(raw: unknown): SettingsSource {
  return isObject(raw) ? profileSource(raw) : () => undefined;
}

/**
 * Every profile VS Code's settings define, "default" first. A tokenrelay.profiles value that is
 * not an object, a name that is not allowed or repeats another (letter case aside), and a profile
 * with the issuer and client of an earlier one are each that profile's named problem.
 */
export function readProfiles(get: SettingsSource): ProfileConfig[] {
  const profiles: ProfileConfig[] = [{ name: DEFAULT_PROFILE, result: parseSettings(get), get }];
  const value = get('profiles');
  if (value === undefined || value === null) return profiles;
  if (!isObject(value)) {
    // Nothing named can be served; the default profile still is.
    profiles.push({ name: PROFILES_SETTING, get: () => undefined, result: failed(`${PROFILES_SETTING} must be an object of named profiles.`,
      'For example {"work": {"issuer": "https://login.example.com", "clientId": "vscode"}}.') });
    return profiles;
  }
  const seen = new Map<string, string>([[DEFAULT_PROFILE, DEFAULT_PROFILE]]);
  for (const [name, raw] of Object.entries(value)) {
    const source = sourceOf(raw);
    const where = `${PROFILES_SETTING}.${name}`;
    const same = seen.get(name.toLowerCase());
    let result: SettingsResult;
    if (!PROFILE_NAME.test(name)) result = failed(`${where}: the profile name "${name}" is not allowed.`, NAME_RULE);
    else if (same === DEFAULT_PROFILE) {
      result = failed(`${where} repeats the profile "default", which is your top-level tokenrelay.* settings.`, 'Rename this profile, or move its settings to the top-level tokenrelay.* settings.');
    } else if (same) result = failed(`${where} repeats the profile "${same}" (profile names ignore letter case).`, 'Give each profile its own name.');
    else if (!isObject(raw)) result = failed(`${where} must be an object.`, 'For example {"issuer": "https://login.example.com", "clientId": "vscode"}.');
    else result = prefixed(parseSettings(source), `Profile "${name}" (${where}): `);
    if (PROFILE_NAME.test(name) && !same) seen.set(name.toLowerCase(), name);
    profiles.push({ name, result, get: source });
  }
  return refuseSharedIdentities(profiles);
}

/**
 * Two profiles with one issuer and client would be two views of the same accounts (a slot is its
 * issuer, client and account): the later one is refused. Another API of the same grant is a
 * `resource`, not a profile.
 */
export function refuseSharedIdentities(profiles: ProfileConfig[]): ProfileConfig[] {
  const owners: { name: string; identity: ConfigIdentity }[] = [];
  return profiles.map((p) => {
    if (!p.result.ok) return p;
    const identity = identityOf(p.result.settings.oauth);
    const owner = owners.find((o) => o.identity.issuer === identity.issuer && o.identity.clientId === identity.clientId);
    if (!owner) {
      owners.push({ name: p.name, identity });
      return p;
    }
    return { ...p, result: failed(`Profile "${p.name}" uses the same issuer and client id as profile "${owner.name}" (${identity.clientId} at ${identity.issuer}).`,
      'Use one profile per identity provider and client; for another API of the same sign-in, ask for its token with --resource (or getAccessToken({ resource })).') };
  });
}

/**
 * Takes the `profile:<name>` scope out of a request's scopes. More than one, or an empty name, is
 * a `config` problem naming the scope.
 */
export function splitProfileScope(scopes: readonly string[] | undefined): { profile?: string; scopes?: string[] } {
  if (!scopes) return {};
  const named = scopes.filter((s) => s.startsWith(PROFILE_SCOPE_PREFIX));
  const rest = scopes.filter((s) => !s.startsWith(PROFILE_SCOPE_PREFIX));
  if (!named.length) return { scopes: [...scopes] };
  const names = [...new Set(named.map((s) => s.slice(PROFILE_SCOPE_PREFIX.length)))];
  if (names.length > 1 || !names[0]) {
    throw new TokenRelayError('unknown-profile', `The scopes name ${names.length > 1 ? `more than one profile (${named.join(', ')})` : 'an empty profile ("profile:")'}.`,
      'Ask with one scope "profile:<name>", where <name> is a profile of tokenrelay.profiles (or "default").');
  }
  return { profile: names[0], scopes: rest };
}

/** The error for a profile nobody configured; `known` are the profiles there are. */
export function unknownProfile(name: string, known: readonly string[], where = `${PROFILES_SETTING} in your user settings`): TokenRelayError {
  return new TokenRelayError('unknown-profile', `Token Relay has no profile "${name}" (it has ${known.map((k) => `"${k}"`).join(', ') || 'none'}).`,
    `Add it to ${where}, or use one of those.`);
}

function failed(message: string, fix: string): SettingsResult {
  return { ok: false, unconfigured: false, problem: new TokenRelayError('config', message, fix) };
}

function prefixed(result: SettingsResult, where: string): SettingsResult {
  if (result.ok) return result;
  return { ...result, problem: new TokenRelayError(result.problem.code, `${where}${result.problem.message}`) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
