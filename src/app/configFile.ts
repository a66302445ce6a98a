// The configuration outside VS Code: named profiles in one JSON file (storeRoot.ts says where),
// validated by the same parseSettings as the VS Code settings, with the same names and errors.
//
//   { "profiles": { "default": { "issuer": "https://login.example.com", "clientId": "cli",
//                                "scopes": ["openid", "offline_access"], "git": { "hosts": [...] } } } }
//
// VS Code's tokenrelay.* settings are the profile "default" as seen from VS Code. A broken file is
// reported (file, position, fix) and never rewritten, so nothing the user wrote is lost.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { TokenRelayError } from '../core/errors.ts';
import { replaceDurable } from '../core/durableFile.ts';
import { ensurePrivateDir } from '../core/slotDir.ts';
import { parseSettings, type SettingsResult } from './settings.ts';
import { DEFAULT_PROFILE, PROFILE_NAME, profileSource } from './profiles.ts';
import { duplicateKey } from './duplicateKeys.ts';

export { DEFAULT_PROFILE, profileSource };

/** What a profile may hold: the tokenrelay.* settings' names, nested where VS Code uses a dot. */
const PROFILE_KEYS = new Set(['issuer', 'clientId', 'scopes', 'resource', 'endpoints', 'redirectUri', 'clientAuthMethod', 'signInFlow',
  'refreshSkewSeconds', 'refreshTokenReuseGraceSeconds', 'keyStore', 'git', 'docker', 'mcp', 'kubernetes']);
const NESTED_KEYS: Record<string, Set<string>> = {
  git: new Set(['hosts', 'username']), docker: new Set(['registries', 'username']), mcp: new Set(['servers']), kubernetes: new Set(['clusters']),
};

export type Profile = Record<string, unknown>;

export interface ConfigFile {
  path: string;
  /** False when the file does not exist (nothing configured outside VS Code). */
  exists: boolean;
  profiles: Record<string, Profile>;
}

function configProblem(path: string, message: string, fix: string): TokenRelayError {
  return new TokenRelayError('config', `${path}: ${message}`, fix);
}

/** Reads and checks the file's shape; a missing file is an empty configuration. */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { path, exists: false, profiles: {} };
    throw configProblem(path, `cannot be read (${code ?? String(err)}).`, 'Make it readable by your user, or move it away.');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw configProblem(path, `is not valid JSON (${(err as Error).message}).`, 'Fix the JSON (the file is left as it is), or move it away and run "tokenrelay sign-in --issuer URL --client-id ID".');
  }
  if (!isObject(value)) throw configProblem(path, 'must hold a JSON object with "profiles".', 'For example {"profiles": {"default": {"issuer": "https://…", "clientId": "…"}}}.');
  const unknown = Object.keys(value).filter((k) => k !== 'profiles' && k !== '$schema');
  if (unknown.length) throw configProblem(path, `has unknown key(s) ${unknown.map((k) => `"${k}"`).join(', ')}.`, 'Only "profiles" is read; move the settings into a profile.');
  const profiles = value.profiles ?? {};
  if (!isObject(profiles)) throw configProblem(path, '"profiles" must be an object of named profiles.', 'For example {"profiles": {"default": {…}}}.');
  // JSON.parse keeps the last of two equal keys: a profile written twice would silently lose one.
  const twice = duplicateKey(text);
  if (twice) throw configProblem(path, `names "${twice.key}" twice (${twice.where}).`, 'Keep one of them (the file is left as it is): each profile and setting may appear once.');
  const byCase = new Map<string, string>();
  for (const name of Object.keys(profiles)) {
    const other = byCase.get(name.toLowerCase());
    if (other) throw configProblem(path, `has the profiles "${other}" and "${name}", which differ only in letter case.`, 'Give each profile its own name (profile names ignore letter case).');
    byCase.set(name.toLowerCase(), name);
  }
  for (const [name, profile] of Object.entries(profiles)) checkProfile(path, name, profile);
  return { path, exists: true, profiles: profiles as Record<string, Profile> };
}

function checkProfile(path: string, name: string, profile: unknown): asserts profile is Profile {
  if (!PROFILE_NAME.test(name)) {
    throw configProblem(path, `profile name "${name}" is not allowed.`, 'Use letters, digits, ".", "_" or "-" (at most 64, starting with a letter or digit).');
  }
  if (!isObject(profile)) throw configProblem(path, `profile "${name}" must be an object.`, 'For example {"issuer": "https://…", "clientId": "…"}.');
  for (const [key, value] of Object.entries(profile)) {
    if (!PROFILE_KEYS.has(key)) {
      throw configProblem(path, `profile "${name}" has an unknown setting "${key}".`, `Use only ${[...PROFILE_KEYS].join(', ')}.`);
    }
    const nested = NESTED_KEYS[key];
    if (nested && (!isObject(value) || Object.keys(value).some((k) => !nested.has(k)))) {
      throw configProblem(path, `profile "${name}": "${key}" must be an object with ${[...nested].join(' and/or ')}.`, `For example {"${key}": {"${[...nested][0]}": …}}.`);
    }
  }
}

/** A profile validated like the VS Code settings; errors say which file and profile. */
export function profileSettings(file: ConfigFile, name = DEFAULT_PROFILE): SettingsResult {
  const profile = Object.hasOwn(file.profiles, name) ? file.profiles[name] : undefined;
  if (!profile) {
    const known = Object.keys(file.profiles);
    const problem = new TokenRelayError('config',
      file.exists ? `${file.path} has no profile "${name}"${known.length ? ` (it has ${known.map((k) => `"${k}"`).join(', ')})` : ''}.` : `No profile "${name}": ${file.path} does not exist.`,
      `Run "tokenrelay sign-in --profile ${name} --issuer URL --client-id ID" to create it${known.length ? ', or use --profile with one of those' : ''}.`);
    return { ok: false, problem, unconfigured: !file.exists };
  }
  const result = parseSettings(profileSource(profile));
  if (result.ok) return result;
  const where = `${file.path}, profile "${name}": `;
  return { ...result, problem: new TokenRelayError(result.problem.code, `${where}${result.problem.message}`) };
}

/**
 * Writes (or replaces) one profile, leaving the others as they were. Refuses to touch a file that
 * does not parse, so nothing the user wrote is lost. Validated before it is written.
 */
export function saveProfile(path: string, name: string, profile: Profile): void {
  const file = readConfigFile(path);
  checkProfile(path, name, profile);
  const next: ConfigFile = { ...file, exists: true, profiles: { ...file.profiles, [name]: profile } };
  const result = profileSettings(next, name);
  if (!result.ok) throw result.problem;
  writeProfiles(path, next.profiles);
}

function writeProfiles(path: string, profiles: Record<string, Profile>): void {
  const dir = dirname(path);
  ensurePrivateDir(dir, 'configuration directory');
  replaceDurable(dir, dir, path.slice(dir.length + 1), `${JSON.stringify({ profiles }, null, 2)}\n`);
}

/** A profile as VS Code holds it (dotted keys like "git.hosts", or nested) in the file's nested form. */
export function nestedProfile(values: Record<string, unknown>): Profile {
  const out: Profile = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null) continue;
    const [head, tail] = key.split('.', 2);
    if (tail === undefined) out[head] = isObject(value) && isObject(out[head]) ? { ...(out[head] as object), ...value } : value;
    else out[head] = { ...(isObject(out[head]) ? out[head] : {}), [tail]: value };
  }
  return out;
}

export interface MirrorResult {
  added: string[];
  /** Profiles the file has under the same name with another issuer or client: left as they are. */
  differing: string[];
}

/**
 * Copies VS Code's profiles that the file does not have yet into it, so the CLI with VS Code closed
 * (cron, SSH) knows them under the same names. A profile the file already has is never rewritten:
 * one with another issuer or client is reported instead. A file that does not parse is left alone
 * (readConfigFile throws its named problem).
 */
export function mirrorProfiles(path: string, profiles: { name: string; values: Record<string, unknown>; identity: { issuer: string; clientId: string } }[]): MirrorResult {
  const file = readConfigFile(path);
  const result: MirrorResult = { added: [], differing: [] };
  let next = file;
  for (const { name, values, identity } of profiles) {
    const existing = Object.hasOwn(file.profiles, name) ? profileSettings(file, name) : undefined;
    if (existing) {
      const same = existing.ok && existing.settings.identity.issuer === identity.issuer && existing.settings.identity.clientId === identity.clientId;
      if (!same) result.differing.push(name);
      continue;
    }
    const profile = nestedProfile(values);
    checkProfile(path, name, profile);
    next = { ...next, exists: true, profiles: { ...next.profiles, [name]: profile } };
    result.added.push(name);
  }
  if (result.added.length) writeProfiles(path, next.profiles);
  return result;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
