// The `tokenrelay.*` settings as VS Code holds them, handed to the vscode-free validation in
// src/app/settings.ts. Every one is read from the user's settings (or its default), never from a
// workspace or folder: each decides where or whether a token flows, or can stop the service, and a
// workspace's .vscode/settings.json is code from a repository. package.json declares them
// application-scoped, so VS Code ignores workspace values too; reading the user value ourselves
// keeps that true whatever the VS Code version, and a workspace value is named in the log instead
// of being a reason to stop serving.
import * as vscode from 'vscode';
import type { Logger } from '../core/types.ts';
import { SETTING_KEYS, parseSettings, type SettingsResult, type SettingsSource } from '../app/settings.ts';
import { DEFAULT_PROFILE, profileSources, readProfiles, type ProfileConfig, type ProfileSource } from '../app/profiles.ts';

export const SECTION = 'tokenrelay';

/** `tokenrelay.<key>` from the user's settings, else its default. */
export function userSettings(): SettingsSource {
  const config = vscode.workspace.getConfiguration(SECTION);
  return (key) => {
    const seen = config.inspect(key);
    return seen ? seen.globalValue ?? seen.defaultValue : undefined;
  };
}

/** The `tokenrelay.*` keys a workspace or folder sets (all ignored). */
export function workspaceSettingKeys(): string[] {
  const config = vscode.workspace.getConfiguration(SECTION);
  return SETTING_KEYS.filter((key) => {
    const seen = config.inspect(key);
    return seen?.workspaceValue !== undefined || seen?.workspaceFolderValue !== undefined;
  });
}

let saidIgnored = '';

/** Names, once in `log`, the `tokenrelay.*` values a workspace sets (all ignored). */
function nameIgnoredWorkspaceValues(log?: Logger): void {
  const ignored = workspaceSettingKeys();
  if (log && ignored.length && ignored.join() !== saidIgnored) {
    log.warn(`Ignoring ${ignored.map((k) => `${SECTION}.${k}`).join(', ')} in this workspace's settings: Token Relay reads its settings from your user settings only, because a workspace is code from a repository and must not decide where your token goes. Move them to your user settings if you meant them.`);
  }
  saidIgnored = ignored.join();
}

/** The current `tokenrelay.*` settings (user settings only); workspace values are named once in `log`. */
export function readSettings(log?: Logger): SettingsResult {
  nameIgnoredWorkspaceValues(log);
  return parseSettings(userSettings());
}

/** Every profile of the user settings ("default": the top-level ones; tokenrelay.profiles), each validated alone. */
export function readProfileSettings(log?: Logger): ProfileConfig[] {
  nameIgnoredWorkspaceValues(log);
  return readProfiles(userSettings());
}

/** Every profile's settings source, read now, unvalidated (the terminal routes' git hosts, registries, servers, clusters). */
export function userProfileSources(): ProfileSource[] {
  return profileSources(userSettings());
}

/**
 * What the user wrote for each profile that is usable now (no defaults), for the configuration
 * file the CLI reads with VS Code closed (configFile.ts mirrorProfiles).
 */
export function userProfileValues(profiles: ProfileConfig[]): { name: string; values: Record<string, unknown>; identity: { issuer: string; clientId: string } }[] {
  const config = vscode.workspace.getConfiguration(SECTION);
  const written = (key: string) => config.inspect(key)?.globalValue;
  const named = written('profiles');
  return profiles.flatMap((p) => {
    if (!p.result.ok) return [];
    const values = p.name === DEFAULT_PROFILE
      ? Object.fromEntries(SETTING_KEYS.filter((k) => k !== 'profiles').map((k) => [k, written(k)]))
      : (named as Record<string, Record<string, unknown>>)[p.name];
    return [{ name: p.name, values, identity: p.result.settings.identity }];
  });
}

/** True when the user changed a setting that affects sign-in or tokens. */
export function affectsSettings(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration(SECTION);
}
