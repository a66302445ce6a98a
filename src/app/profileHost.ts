// The application layer as a host outside VS Code assembles it: a profile of the configuration
// file, the per-user store, the OS keyring (or the opted-in key file), and one AccountService over
// them. The one-shot CLI (src/cli/direct) and the agent (src/agent) differ only in how long they
// live and what they ask of the registry, so both open it here instead of wiring it twice.
import { statSync } from 'node:fs';
import { AccountRegistry, type RegistryOptions } from './accountRegistry.ts';
import { AccountService } from './accountService.ts';
import { configFilePath, openStoreLayout, type StoreLayout } from './storeRoot.ts';
import { DEFAULT_PROFILE, profileSettings, profileSource, readConfigFile } from './configFile.ts';
import { parseDockerSettings, readGitHosts, readKubernetesClusters, readMcpServers, type DockerSettings, type SettingsResult, type SettingsSource } from './settings.ts';
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
}

/** What the terminal routes read from the configuration at each request (TerminalRouteOptions' own names). */
export interface HostSettings {
  gitUsername(): string;
  gitHosts(): readonly string[] | undefined;
  mcpServers(): readonly string[] | undefined;
  kubernetesClusters(): readonly string[] | undefined;
  docker(): DockerSettings;
  where(): HostDescription;
}

export class ProfileHost {
  readonly service: AccountService;
  readonly settings: HostSettings;
  private get: SettingsSource;
  private stamp: string;

  private constructor(
    private readonly options: ProfileHostOptions,
    readonly profile: string,
    readonly configPath: string,
    private result: SettingsResult,
    get: SettingsSource,
    readonly layout: StoreLayout,
    readonly keyStores: KeyStore[],
  ) {
    this.get = get;
    this.stamp = stampOf(configPath);
    const registry = new AccountRegistry({
      slotsRoot: layout.slots, store: noSecrets, keyStores, log: options.log, label: options.label, profile,
      siblings: (log) => new UnixSiblingChannel(defaultSocketDir(options.env), log), watchSlots: options.watchSlots, signOutPrevious: false,
      // Test bundles only (failpoints.ts): nothing in a shipped build.
      brokerOptions: { ...options.brokerOptions, hooks: failpointHooks(options.env) },
    });
    this.service = new AccountService(registry, options.log, { profile });
    this.settings = {
      gitUsername: () => String(this.get('git.username') ?? ''),
      gitHosts: () => readGitHosts(this.get),
      mcpServers: () => readMcpServers(this.get),
      kubernetesClusters: () => readKubernetesClusters(this.get),
      docker: () => parseDockerSettings(this.get),
      where: () => ({ profile, store: layout.root, keyStore: keyStores.map((s) => s.description).join(', ') }),
    };
  }

  /**
   * Reads the profile, opens (or creates) the store and chooses the key stores. A missing file is
   * NoDirectConfiguration; a broken file or an unknown profile is its own named problem.
   */
  static open(options: ProfileHostOptions): ProfileHost {
    const { env } = options;
    const profile = options.profile ?? env.TOKENRELAY_PROFILE ?? DEFAULT_PROFILE;
    const path = options.configPath ?? configFilePath(env);
    const { result, get } = readProfile(path, profile);
    const layout = openStoreLayout(env);
    const keyStores = keyStoresFor({ platform: process.platform, env, layout: { keysDir: layout.keys }, choice: keyStoreChoiceOf(get('keyStore'), env) });
    return new ProfileHost(options, profile, path, result, get, layout, keyStores);
  }

  /** Loads the accounts of the profile. */
  start(): Promise<void> {
    return this.service.configure(this.result);
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
    let next: { result: SettingsResult; get: SettingsSource };
    try {
      next = readProfile(this.configPath, this.profile);
    } catch (err) {
      if (!(err instanceof TokenRelayError)) throw err;
      next = { result: { ok: false, problem: err, unconfigured: false }, get: () => undefined };
    }
    this.options.log.info(`${this.configPath} changed; reloading profile "${this.profile}"`);
    this.result = next.result;
    this.get = next.get;
    await this.service.configure(next.result);
  }
}

function readProfile(path: string, profile: string): { result: SettingsResult; get: SettingsSource } {
  const file = readConfigFile(path);
  const result = profileSettings(file, profile);
  if (!result.ok) {
    if (result.unconfigured) {
      throw new NoDirectConfiguration('not-signed-in', `nothing is configured for use without one (${file.path} does not exist).`,
        'Run "tokenrelay sign-in --issuer URL --client-id ID" (it finds a session VS Code signed in with the same issuer and client), or open a VS Code window with Token Relay.');
    }
    throw result.problem;
  }
  return { result, get: profileSource(file.profiles[profile]) };
}

/** Changes when the file is replaced or rewritten (saveProfile renames a new file into place). */
function stampOf(path: string): string {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'missing';
}
