// Entry point: wires the AccountService (over the account registry: one broker per account, shared
// with every window) to VS Code — the `tokenrelay` authentication provider, status bar, commands,
// log channel, settings, the terminal bridge — and returns the public API. Every one of them gets
// tokens and status from that one service.
//
// Activation: `onAuthenticationRequest:tokenrelay` (from contributes.authentication) plus
// `onStartupFinished`, because the status bar item and the terminals' environment must exist
// before anyone asks for a session; `onMcpCollection:tokenrelay` (VS Code 1.101+ also derives it
// from contributes.mcpServerDefinitionProviders) when VS Code's MCP client asks for our servers.
// activate() does no network I/O and does not wait for the accounts to load; the provider and the
// API wait for that themselves.
import * as vscode from 'vscode';
import { join } from 'node:path';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/types.ts';
import type { TokenService } from '../app/tokenService.ts';
import { AccountRegistry, type RegistryOptions } from '../app/accountRegistry.ts';
import { AccountService } from '../app/accountService.ts';
import { configFilePath, storeLayout, type StoreLayout } from '../app/storeRoot.ts';
import type { KeyStore } from '../core/keyStore.ts';
import { UnixSiblingChannel } from '../ipc/siblingChannel.ts';
import { defaultSocketDir } from '../ipc/socketDir.ts';
import { secretStoreKeys } from '../core/secretStoreKeys.ts';
import { keyStoreChoiceOf, keyStoresFor } from '../keystore/chooseKeyStores.ts';
import { createApi, type TokenRelayApi } from './api.ts';
import { PROVIDER_ID, PROVIDER_LABEL, TokenRelayAuthProvider } from './authProvider.ts';
import { registerCommands } from './commands.ts';
import { channelLogger } from './log.ts';
import { secretStoreFrom } from './secretStoreAdapter.ts';
import { affectsSettings, readProfileSettings, userProfileValues, userSettings } from './settings.ts';
import { mirrorProfiles } from '../app/configFile.ts';
import { DEFAULT_PROFILE, type ProfileConfig } from '../app/profiles.ts';
import { sameIdentity } from '../app/slots.ts';
import { SignInController } from './signIn.ts';
import { StatusBar } from './statusBar.ts';
import { startTerminalBridge } from './terminalEnv.ts';
import { registerMcpDefinitions } from './mcpDefinitions.ts';
import { ENV_SOCKET } from '../ipc/tokenProtocol.ts';
import { notify } from './notify.ts';

export type { TokenRelayApi, GetAccessTokenOptions } from './api.ts';

export interface ExtensionDeps {
  /** The environment the store root and the key store choice come from (tests: a private TOKENRELAY_HOME). */
  storeEnv?: NodeJS.ProcessEnv;
  /** Replaces the OS keyring (tests must never touch the user's). */
  osKeyStores?: KeyStore[];
  /** Replaced in unit tests; the real one serves the terminals. */
  startTerminalBridge?: (context: vscode.ExtensionContext, service: TokenService, log: Logger) => Promise<vscode.Disposable>;
  /** Unit tests: how long the browser sign-in waits before offering to check the settings. */
  signInStillWaitingMs?: number;
  /** Unit tests: socket dir, broker timings. */
  registry?: Partial<Omit<RegistryOptions, 'slotsRoot' | 'store' | 'log' | 'memento'>>;
}

export interface ExtensionHandle {
  api: TokenRelayApi;
  service: AccountService;
  auth: TokenRelayAuthProvider;
  statusBar: StatusBar;
  signIn: SignInController;
  log: Logger;
  activationMs: number;
  dispose(): Promise<void>;
}

let running: ExtensionHandle | undefined;

/**
 * The per-user store (storeRoot.ts) and the OS keyring, shared with every other flavour and the
 * CLI. A TOKENRELAY_HOME or key store choice that cannot be used is reported, and the window
 * falls back to what still works (the default root; SecretStorage alone), so it keeps serving.
 */
function storeAndKeys(deps: ExtensionDeps, log: Logger): { layout: StoreLayout; osKeyStores: KeyStore[] } {
  const env = deps.storeEnv ?? process.env;
  let layout: StoreLayout;
  try {
    layout = storeLayout(env);
  } catch (err) {
    log.error(`${describeError(err)} Using the default store location instead.`);
    void notify('error', `Token Relay: ${describeError(err)}`);
    layout = storeLayout({ ...env, TOKENRELAY_HOME: undefined });
  }
  if (deps.osKeyStores) return { layout, osKeyStores: deps.osKeyStores };
  try {
    const choice = keyStoreChoiceOf(userSettings()('keyStore'), env);
    return { layout, osKeyStores: keyStoresFor({ platform: process.platform, env, layout: { keysDir: layout.keys }, choice }) };
  } catch (err) {
    log.error(`${describeError(err)} The seal key is kept in VS Code's secret storage only.`);
    return { layout, osKeyStores: [] };
  }
}

/**
 * The CLI with VS Code closed reads the configuration file: VS Code's profiles it does not have
 * yet are added under the same names (never rewriting one it has). A problem is logged, never fatal.
 */
function shareProfiles(profiles: ProfileConfig[], env: NodeJS.ProcessEnv, log: Logger): void {
  const path = configFilePath(env);
  try {
    const { added, differing } = mirrorProfiles(path, userProfileValues(profiles));
    if (added.length) log.info(`Added the profile(s) ${added.map((n) => `"${n}"`).join(', ')} to ${path}, so the tokenrelay CLI knows them with VS Code closed`);
    for (const name of differing) log.warn(`The profile "${name}" in ${path} names another issuer or client than VS Code's; the CLI with VS Code closed uses the file's. Make them agree, or rename one.`);
  } catch (err) {
    log.warn(`The profiles were not copied to ${path}: ${describeError(err)}`);
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<TokenRelayApi> {
  running = await startExtension(context);
  return running.api;
}

export async function deactivate(): Promise<void> {
  const handle = running;
  running = undefined;
  await handle?.dispose();
}

export async function startExtension(context: vscode.ExtensionContext, deps: ExtensionDeps = {}): Promise<ExtensionHandle> {
  const started = performance.now();
  const channel = vscode.window.createOutputChannel('Token Relay', { log: true });
  const log = channelLogger(channel);
  const disposables: vscode.Disposable[] = [channel];

  const store = secretStoreFrom(context.secrets);
  const { layout, osKeyStores } = storeAndKeys(deps, log);
  // The identities (issuer, client) the profiles use now: a profile that moves away from one signs
  // its accounts out only when no other profile took it over.
  let profiles: ProfileConfig[] = [];
  const registryFor = (profile: string) => new AccountRegistry({
    label: 'window',
    ...deps.registry,
    profile,
    identityInUse: (identity) => profiles.some((p) => p.name !== profile && p.result.ok && sameIdentity(p.result.settings.identity, identity)),
    slotsRoot: layout.slots,
    // Slots from before the per-user store were the one configuration's: the default profile's.
    legacySlotsRoot: profile === DEFAULT_PROFILE ? join(context.globalStorageUri.fsPath, 'slots') : undefined,
    store,
    // SecretStorage first: no process to start; the OS keyring keeps K for terminals with VS Code closed.
    keyStores: [secretStoreKeys(store), ...osKeyStores],
    log,
    memento: context.globalState,
    siblings: deps.registry?.siblings ?? ((l) => new UnixSiblingChannel(defaultSocketDir(), l)),
  });
  const service = new AccountService(registryFor(DEFAULT_PROFILE), log, { registryFor });
  const configure = async () => {
    profiles = readProfileSettings(log);
    await service.configureProfiles(new Map(profiles.map((p) => [p.name, p.result])));
    shareProfiles(profiles, deps.storeEnv ?? process.env, log);
  };
  const signIn = new SignInController(service, log, deps.signInStillWaitingMs);
  service.setSignInHandler(async (profile) => { await signIn.run({ profile }); });

  const auth = new TokenRelayAuthProvider(service, signIn, log);
  disposables.push(auth, vscode.authentication.registerAuthenticationProvider(PROVIDER_ID, PROVIDER_LABEL, auth, { supportsMultipleAccounts: true }));

  const statusBar = new StatusBar(service);
  // The walkthrough's sign-in step completes on this context key.
  let signedInContext: boolean | undefined;
  const updateContext = () => {
    const signedIn = service.accounts().some((a) => a.signedIn);
    if (signedIn === signedInContext) return;
    signedInContext = signedIn;
    void vscode.commands.executeCommand('setContext', 'tokenrelay.signedIn', signedIn);
  };
  disposables.push(service.onDidChange(updateContext));
  disposables.push(statusBar, ...registerCommands({ service, signIn, channel, log, extensionPath: context.extensionPath }));

  const tokenChanged = new vscode.EventEmitter<void>();
  disposables.push(tokenChanged, auth.onDidChangeSessions(() => tokenChanged.fire()));
  const api = createApi(service, tokenChanged.event);

  const notices = service.onNotice((notice) => {
    const show = notice.kind === 'corrupt-secret'
      ? notify('warning', `Token Relay: ${notice.message}`, 'Sign In')
      : notice.kind === 'account-replaced' ? notify('info', notice.message) // the user just signed in
      : notify('info', notice.message, 'Sign In');
    void Promise.resolve(show).then((pick) => { if (pick) void signIn.run().catch(() => undefined); }, () => undefined);
  });
  disposables.push({ dispose: () => notices.dispose() });

  disposables.push(vscode.workspace.onDidChangeConfiguration((event) => {
    if (!affectsSettings(event)) return;
    log.info('Settings changed; reloading the configuration');
    void configure();
  }));

  const loadStarted = performance.now();
  void configure().then(() => {
    const result = service.settingsResult();
    for (const p of service.profileProblems()) log.warn(`Configuration: ${p.problem.message}`);
    log.info(`Loaded ${service.accounts().length} account(s) of ${service.profiles().length} profile(s) in ${Math.round(performance.now() - loadStarted)} ms`);
    // VS Code lists a provider's sign-in in the Accounts menu only for a pending session request:
    // ask for our own while nobody is signed in, so the menu offers "Sign in with Token Relay".
    // Before anything is configured too: the menu entry then opens the set-up walkthrough.
    if ((result?.ok || result?.unconfigured) && service.accounts().length === 0) {
      const scopes = result.ok ? result.settings.oauth.scopes : [];
      void Promise.resolve().then(() => vscode.authentication.getSession(PROVIDER_ID, scopes, { createIfNone: false }))
        .catch((err) => log.debug(`Accounts menu request not placed: ${describeError(err)}`));
    }
  }, (err) => log.error(`Loading the accounts failed: ${describeError(err)}`));

  try {
    disposables.push(await (deps.startTerminalBridge ?? startTerminalBridge)(context, service, log));
  } catch (err) {
    log.error(`The terminal bridge did not start: ${describeError(err)}`);
  }
  // VS Code's MCP client gets tokenrelay.mcp.servers as `tokenrelay mcp-proxy` servers, pointed at the socket the terminals get.
  disposables.push(registerMcpDefinitions({ extensionPath: context.extensionPath, socketPath: () => context.environmentVariableCollection.get?.(ENV_SOCKET)?.value, log }));

  let disposed = false;
  const handle: ExtensionHandle = {
    api, service, auth, statusBar, signIn, log,
    activationMs: Math.round(performance.now() - started),
    async dispose() {
      if (disposed) return;
      disposed = true;
      await service.dispose(); // brokers first: they still log to the channel while closing
      for (const d of disposables.reverse()) {
        try { d.dispose(); } catch { /* keep disposing */ }
      }
    },
  };
  // Also when VS Code disposes the subscriptions without calling deactivate (e.g. in tests).
  context.subscriptions.push({ dispose: () => void handle.dispose() });
  const ui = vscode.env.uiKind === vscode.UIKind.Web ? 'web' : 'desktop';
  log.info(`Activated in ${handle.activationMs} ms (extension host pid ${process.pid}, ${ui} UI, remote ${vscode.env.remoteName ?? 'none'})`);
  return handle;
}
