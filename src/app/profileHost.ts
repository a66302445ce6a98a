// The application layer as a host outside VS Code assembles it: a profile of the configuration
// file (the agent: every profile, that one first), the per-user store, the OS keyring (or the
// opted-in key file), and one AccountService over them. The one-shot CLI (src/cli/direct) and the agent (src/agent) differ only in how long they
// live and what they ask of the registry, so both open it here instead of wiring it twice.
import { statSync } from 'node:fs';
import { AccountRegistry, type RegistryOptions } from './accountRegistry.ts';
import { AccountService } from './accountService.ts';
import { configFilePath, openStoreLayout, type StoreLayout } from './storeRoot.ts';
import { DEFAULT_PROFILE, profileSettings, profileSource, readConfigFile } from './configFile.ts';
import { refuseSharedIdentities, type ProfileConfig } from './profiles.ts';
import type { SettingsResult, SettingsSource } from './settings.ts';
import { destinationSettings, type DestinationSettings } from './destinations.ts';
import type { HostDescription } from './tokenService.ts';
import { TokenRelayError } from '../core/errors.ts';
import type { KeyStore } from '../core/keyStore.ts';
import type { Logger } from '../core/types.ts';
import { noSecrets } from '../core/secretStoreKeys.ts';
import { defaultSocketDir } from '../ipc/socketPaths.ts';
import { UnixSiblingChannel } from '../ipc/siblingChannel.ts';
import { keyStoreChoiceOf, keyStoresFor } from '../keystore/chooseKeyStores.ts';
import { failpointHooks } from './failpoints.ts';

/** Nothing is configured outside VS Code (no configuration file): the CLI's exit 4, the agent's refusal to start. */
export class NoDirectConfiguration extends TokenRelayError {
  override name = 'NoDirectConfiguration';
}

export interface ProfileHostOptions {
  env: NodeJS.ProcessEnv;
  /** The configuration file's profile (default: TOKENRELAY_PROFILE, else "default"). */
  profile?: string;
  /** Default: configFilePath(env). */
  configPath?: string;
  log: Logger;
  /** Written into the journal, so status elsewhere says who refreshed. */
  label: 'cli' | 'agent';
  brokerOptions?: RegistryOptions['brokerOptions'];
  watchSlots?: boolean;
  /** Serve every profile of the file, `profile` first (the agent); otherwise that one alone (the one-shot CLI). */
  allProfiles?: boolean;
}

/** What the terminal routes read from the configuration at each request (TerminalRouteOptions' own names). */
export interface HostSettings extends DestinationSettings {
  where(): HostDescription;
}

/** The profiles a host serves, as last read from the file: the first is the one it was opened for. */
interface Loaded {
  configs: ProfileConfig[];
}

export class ProfileHost {
  readonly service: AccountService;
  readonly settings: HostSettings;
  private loaded: Loaded;
  private stamp: string;

  private constructor(
    private readonly options: ProfileHostOptions,
    readonly profile: string,
    readonly configPath: string,
    loaded: Loaded,
    readonly layout: StoreLayout,
    readonly keyStores: KeyStore[],
  ) {
    this.loaded = loaded;
    this.stamp = stampOf(configPath);
    const registryFor = (name: string) => new AccountRegistry({
      slotsRoot: layout.slots, store: noSecrets, log: options.log, label: options.label, profile: name,
      // K's key store is the profile's own choice ("keyStore"), read at start like the first one's.
      keyStores: name === profile ? keyStores : profileKeyStores(options.env, layout, this.sourceOf(name)),
      siblings: (log) => new UnixSiblingChannel(defaultSocketDir(options.env), log), watchSlots: options.watchSlots, signOutPrevious: false,
      // Test bundles only (failpoints.ts): nothing in a shipped build.
      brokerOptions: { ...options.brokerOptions, hooks: failpointHooks(options.env) },
    });
    this.service = new AccountService(registryFor(profile), options.log, { profile, registryFor });
    this.settings = {
      ...destinationSettings(() => this.loaded.configs),
      where: () => ({ profile, store: layout.root, keyStore: keyStores.map((s) => s.description).join(', ') }),
    };
  }

  /**
   * Reads the profile (with `allProfiles`, every profile of the file: the agent), opens (or
   * creates) the store and chooses the key stores. A missing file is NoDirectConfiguration; a
   * broken file or an unknown profile is its own named problem.
   */
  static open(options: ProfileHostOptions): ProfileHost {
    const { env } = options;
    const profile = options.profile ?? env.TOKENRELAY_PROFILE ?? DEFAULT_PROFILE;
    const path = options.configPath ?? configFilePath(env);
    const loaded = readProfiles(path, profile, options.allProfiles === true);
    const layout = openStoreLayout(env);
    const keyStores = profileKeyStores(env, layout, loaded.configs[0].get);
    return new ProfileHost(options, profile, path, loaded, layout, keyStores);
  }

  /** Loads the accounts of the profile(s). */
  start(): Promise<void> {
    return this.service.configureProfiles(resultsOf(this.loaded));
  }

  /**
   * A long-lived host (the agent) applies an edited configuration file before serving a request:
   * one stat when nothing changed. A file that no longer parses stops serving, named, as a window
   * does with broken settings; nothing stored is touched. The key store choice is read only at start.
   */
  async reloadIfChanged(): Promise<void> {
    const stamp = stampOf(this.configPath);
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    let next: Loaded;
    try {
      next = readProfiles(this.configPath, this.profile, this.options.allProfiles === true);
    } catch (err) {
      if (!(err instanceof TokenRelayError)) throw err;
      next = { configs: [{ name: this.profile, result: { ok: false, problem: err, unconfigured: false }, get: () => undefined }] };
    }
    this.options.log.info(`${this.configPath} changed; reloading ${this.options.allProfiles ? 'its profiles' : `profile "${this.profile}"`}`);
    this.loaded = next;
    await this.service.configureProfiles(resultsOf(next));
  }

  private sourceOf(name: string): SettingsSource {
    return this.loaded.configs.find((c) => c.name === name)?.get ?? (() => undefined);
  }
}

/** Where a profile keeps K: its own "keyStore" choice (or TOKENRELAY_KEY_STORE), on this platform. */
export function profileKeyStores(env: NodeJS.ProcessEnv, layout: StoreLayout, get: SettingsSource): KeyStore[] {
  return keyStoresFor({ platform: process.platform, env, layout: { keysDir: layout.keys }, choice: keyStoreChoiceOf(get('keyStore'), env) });
}

function resultsOf(loaded: Loaded): Map<string, SettingsResult> {
  return new Map(loaded.configs.map((c) => [c.name, c.result]));
}

/** The asked profile first (it must exist), then, for `all`, the file's others, each validated alone. */
function readProfiles(path: string, profile: string, all: boolean): Loaded {
  const file = readConfigFile(path);
  const result = profileSettings(file, profile);
  if (!result.ok) {
    if (result.unconfigured) {
      throw new NoDirectConfiguration('not-signed-in', `nothing is configured for use without one (${file.path} does not exist).`,
        'Run "tokenrelay sign-in --issuer URL --client-id ID" (it finds a session VS Code signed in with the same issuer and client), or open a VS Code window with Token Relay.');
    }
    throw result.problem;
  }
  const first: ProfileConfig = { name: profile, result, get: profileSource(file.profiles[profile]) };
  if (!all) return { configs: [first] };
  const others = Object.keys(file.profiles).filter((name) => name !== profile)
    .map((name): ProfileConfig => ({ name, result: profileSettings(file, name), get: profileSource(file.profiles[name]) }));
  return { configs: refuseSharedIdentities([first, ...others]) };
}

/** Changes when the file is replaced or rewritten (saveProfile renames a new file into place). */
function stampOf(path: string): string {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'missing';
}
