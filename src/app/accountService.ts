// The only way anything in a window gets a token or an account's status. The AuthenticationProvider,
// the commands, the extension API and the terminal socket all come here, so each of them gets the
// same checks (configuration, configured scopes, account selection, unreadable secrets) before a
// broker is asked. Wraps one AccountRegistry per profile (profiles.ts), whose brokers never leave
// src/app: a request names its profile (or the `profile:` scope does), else the first one serves.
import { redactor } from '../core/redact.ts';
import { TokenRelayError, describeError } from '../core/errors.ts';
import type { AccessGrant, BrokerStatus } from '../core/broker.ts';
import type { Account, Disposable, Logger, TokenOrigin, TokenSet } from '../core/types.ts';
import type { OAuthClient } from '../oauth/oauthClient.ts';
import { displayIssuer } from '../oauth/serverConfig.ts';
import type { AccountEntry, AccountRegistry, RegistryNotice } from './accountRegistry.ts';
import type { Settings, SettingsResult } from './settings.ts';
import type { ConfigIdentity } from './slots.ts';
import { DEFAULT_PROFILE, PROFILE_SCOPE_PREFIX, splitProfileScope, unknownProfile } from './profiles.ts';
import type { ServiceStatus, SignedOut, TokenRequest, TokenService } from './tokenService.ts';

/** One account as consumers see it: a snapshot, never a broker. */
export interface AccountSummary {
  /** The account's slot key: the same in every window, and its AuthenticationSession id. */
  readonly id: string;
  readonly account: Account;
  /** The profile whose configuration the account belongs to. */
  readonly profile: string;
  /** This window holds current credentials for it. */
  readonly signedIn: boolean;
  /** An unreadable stored secret shows as `needs-sign-in`. */
  readonly status: BrokerStatus;
}

/** What an AuthenticationSession is made of. */
export interface AccountSession {
  readonly id: string;
  readonly accessToken: string;
  readonly account: Account;
  /** The configured scopes: a session covers all of them. */
  readonly scopes: readonly string[];
  readonly profile: string;
}

export interface SessionFilter {
  scopes?: readonly string[];
  /** Only the account with this id or this label (as VS Code's session options name it). */
  account?: { id?: string; label?: string };
}

export interface AccountServiceOptions {
  /** The first registry's profile (default "default"): requests that name none are its. */
  profile?: string;
  /** Opens the registry of another profile (configureProfiles); without it the service has one profile. */
  registryFor?: (profile: string) => AccountRegistry;
}

export class AccountService implements TokenService {
  /** Resolves once the first configuration has been loaded. */
  readonly ready: Promise<void>;
  private signInHandler: ((profile: string) => Promise<void>) | undefined;
  /** Why this process's last interactive sign-in failed; kept until the next attempt. */
  private signInProblem: string | undefined;
  private readonly changeListeners = new Set<() => void>();
  private readonly noticeListeners = new Set<(notice: RegistryNotice) => void>();
  private readonly registries = new Map<string, { registry: AccountRegistry; subscriptions: Disposable[] }>();
  private readonly firstProfile: string;
  /** The slot of the account a consumer last got a token for, which the status bar shows. */
  private lastUsed: string | undefined;

  constructor(registry: AccountRegistry, private readonly log: Logger, private readonly options: AccountServiceOptions = {}) {
    this.firstProfile = options.profile ?? DEFAULT_PROFILE;
    this.adopt(this.firstProfile, registry);
    this.ready = registry.ready;
  }

  // ---- profiles --------------------------------------------------------------------------------

  /** The profiles served, the first one first. */
  profiles(): string[] {
    return [...this.registries.keys()];
  }

  /** The profile a request names (default: the first); an unknown name is its own named error. */
  private registry(profile?: string): AccountRegistry {
    const found = this.registries.get(profile ?? this.firstProfile);
    if (!found) throw unknownProfile(profile!, this.profiles());
    return found.registry;
  }

  /** The registry holding this slot, whichever profile it is. */
  private holder(slotKey: string): { profile: string; registry: AccountRegistry; entry: AccountEntry } | undefined {
    for (const [profile, { registry }] of this.registries) {
      const entry = registry.entry(slotKey);
      if (entry) return { profile, registry, entry };
    }
    return undefined;
  }

  private adopt(profile: string, registry: AccountRegistry): void {
    this.registries.set(profile, {
      registry,
      subscriptions: [
        registry.onDidChange(() => this.changed()),
        registry.onNotice((notice) => { for (const listener of this.noticeListeners) listener(notice); }),
      ],
    });
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  // ---- tokens: every path runs checkRequest, then tokenOf ------------------------------------

  /** A current token for the requested account (default: the primary one). The terminal and API path. */
  async getToken(request: TokenRequest = {}): Promise<AccessGrant> {
    await this.ready;
    const named = splitProfileScope(request.scopes);
    const profile = request.profile ?? named.profile;
    const registry = this.registry(profile);
    this.checkRequest(registry, named.scopes, profile);
    const entry = this.entryFor(registry, request.account);
    if (!entry) {
      throw request.account
        ? new TokenRelayError('not-signed-in', `Token Relay has no session for the account "${request.account}".`, 'Sign in with that account from the Accounts menu.')
        : notSignedIn();
    }
    return this.tokenOf(entry, request);
  }

  /** One account's session with a current token (createSession); rejects like getToken. */
  async session(id: string, scopes?: readonly string[]): Promise<AccountSession> {
    await this.ready;
    const named = splitProfileScope(scopes);
    const held = this.holder(id);
    this.checkRequest(held?.registry ?? this.registry(named.profile), named.scopes, held?.profile ?? named.profile);
    if (!held) throw new TokenRelayError('not-signed-in', 'That Token Relay session no longer exists.', 'Sign in again from the Accounts menu.');
    return sessionOf(held.profile, held.entry, (await this.tokenOf(held.entry, {})).accessToken, held.registry.currentScopes());
  }

  /**
   * The sessions of every account this window holds (getSessions), each with a current token.
   * Rejects for requests getToken refuses; an account whose token cannot be had now is left out.
   */
  async sessions(filter: SessionFilter = {}): Promise<AccountSession[]> {
    await this.ready;
    const named = splitProfileScope(filter.scopes);
    // A `profile:` scope asks one profile; otherwise every profile whose scopes cover the request.
    const profiles = named.profile !== undefined ? [named.profile] : this.profiles();
    const covering = profiles.flatMap((profile) => {
      const registry = this.registry(profile);
      try {
        this.checkRequest(registry, named.scopes, profile);
        return [{ profile, registry }];
      } catch (err) {
        if (named.profile !== undefined || profiles.length === 1) throw err;
        return [];
      }
    });
    const wanted = filter.account;
    const sessions: AccountSession[] = [];
    for (const { profile, registry } of covering) {
      for (const entry of registry.signedIn()) {
        if (wanted && !sameAccount(profile, entry, wanted)) continue;
        try {
          // Refreshes when needed, or waits for a refresh in flight in any window.
          sessions.push(sessionOf(profile, entry, (await this.tokenOf(entry, {})).accessToken, registry.currentScopes()));
        } catch (err) {
          this.log.warn(`No current token for ${entry.account.label}: ${describeError(err)}`);
        }
      }
    }
    return sessions;
  }

  /**
   * The sessions as this window holds them now, without I/O or refresh: for announcing changes
   * (onDidChangeSessions carries them). Callers that use a token ask sessions() or getToken().
   */
  heldSessions(): AccountSession[] {
    return [...this.registries].flatMap(([profile, { registry }]) =>
      registry.signedIn().map((e) => sessionOf(profile, e, e.broker.peek()!.tokens.accessToken, registry.currentScopes())));
  }

  /**
   * Forces one refresh, shared with every window (Refresh Token Now): of the account a consumer
   * last used, else the first profile's primary account.
   */
  async refreshNow(): Promise<AccessGrant> {
    await this.ready;
    const held = this.lastUsed === undefined ? undefined : this.holder(this.lastUsed);
    const registry = held?.registry ?? this.registry();
    this.checkRequest(registry);
    const entry = held?.entry ?? registry.primary();
    const current = entry?.broker.peek();
    if (!entry || !current) throw notSignedIn();
    // Presenting the current token as rejected is what makes the one shared refresh happen.
    return this.tokenOf(entry, { rejectedAccessToken: current.tokens.accessToken }, true);
  }

  /**
   * The error for scopes the profile's configuration does not cover (a `profile:` scope picks the
   * profile); undefined when covered or not configured yet. An unknown profile is its own error.
   */
  scopeProblem(scopes: readonly string[] = []): TokenRelayError | undefined {
    let named: ReturnType<typeof splitProfileScope>;
    let registry: AccountRegistry;
    try {
      named = splitProfileScope(scopes);
      registry = this.registry(named.profile);
    } catch (err) {
      return err as TokenRelayError;
    }
    return this.uncovered(registry, named.profile, named.scopes);
  }

  private uncovered(registry: AccountRegistry, profile: string | undefined, scopes: readonly string[] = []): TokenRelayError | undefined {
    const configured = registry.currentScopes();
    const missing = configured ? scopes.filter((s) => !configured.includes(s)) : [];
    if (!missing.length) return undefined;
    const setting = profile && profile !== DEFAULT_PROFILE ? `the "scopes" of profile "${profile}" (tokenrelay.profiles)` : 'tokenrelay.scopes';
    return new TokenRelayError('config', `Token Relay is not configured for the scope(s) ${missing.join(', ')}.`,
      `Add them to ${setting} and sign in again.`);
  }

  /** The profile a `profile:` scope names (undefined: none does); an unknown one throws. */
  profileOfScopes(scopes: readonly string[] | undefined): string | undefined {
    const { profile } = splitProfileScope(scopes);
    if (profile !== undefined) this.registry(profile);
    return profile;
  }

  private checkRequest(registry: AccountRegistry, scopes?: readonly string[], profile?: string): Settings {
    const settings = registry.currentSettings();
    if (!settings) throw registry.configProblem();
    const problem = this.uncovered(registry, profile, scopes);
    if (problem) throw problem;
    return settings;
  }

  /** `force`: the user asked for the refresh (Refresh Now), which the bound on rejection reports leaves alone. */
  private async tokenOf(entry: AccountEntry, request: TokenRequest, force?: true): Promise<AccessGrant> {
    if (entry.corrupt && !entry.broker.peek()) throw entry.corrupt;
    const grant = await entry.broker.getToken({ rejectedAccessToken: request.rejectedAccessToken, minValidityMs: request.minValidityMs, force, resource: request.resource });
    if (this.lastUsed !== entry.slotKey) {
      this.lastUsed = entry.slotKey;
      this.changed();
    }
    return grant;
  }

  // ---- status --------------------------------------------------------------------------------

  /** A profile's primary account's status (what `tokenrelay status` shows; default: the first profile). Never a token. */
  status(profile?: string): ServiceStatus {
    const registry = this.registry(profile);
    const settings = registry.currentSettings();
    const identity = settings?.identity;
    // The issuer as configured, never the token endpoint URL that keys a no-discovery configuration.
    const base = { lastSignInError: this.signInProblem, issuer: settings ? displayIssuer(settings.oauth) ?? identity?.issuer : undefined, clientId: identity?.clientId };
    const result = registry.settingsResult();
    if (result && !result.ok) {
      return { ...base, state: 'error', error: result.problem.message, errorCode: 'config', unconfigured: result.unconfigured || undefined };
    }
    const entry = registry.primary();
    if (!entry) return { ...base, state: 'signed-out' };
    return { ...base, ...registry.statusOf(entry) };
  }

  /** Every account of every profile: profile by profile, first sign-in first (the same order in every window). */
  accounts(): AccountSummary[] {
    return [...this.registries].flatMap(([profile, { registry }]) => registry.accounts().map((e) => summaryOf(profile, registry, e)));
  }

  /** The account getToken serves by default (of the first profile). */
  primary(): AccountSummary | undefined {
    const registry = this.registry();
    const entry = registry.primary();
    return entry && summaryOf(this.firstProfile, registry, entry);
  }

  /** The account a consumer (the API, a terminal, a session request) last got a token for, while it is still here. */
  lastUsedAccount(): AccountSummary | undefined {
    return this.lastUsed === undefined ? undefined : this.account(this.lastUsed);
  }

  account(id: string): AccountSummary | undefined {
    const held = this.holder(id);
    return held && summaryOf(held.profile, held.registry, held.entry);
  }

  /** Each profile's configuration problem (a broken or half-typed profile), for the status bar. */
  profileProblems(): { profile: string; problem: TokenRelayError; unconfigured: boolean }[] {
    return [...this.registries].flatMap(([profile, { registry }]) => {
      const result = registry.settingsResult();
      return result && !result.ok ? [{ profile, problem: result.problem, unconfigured: result.unconfigured }] : [];
    });
  }

  // ---- sign-in / sign-out --------------------------------------------------------------------

  /**
   * Persists a sign-in the UI completed as the account's next generation, visible to every window.
   * `origin` (the sign-in result's) is where its refresh token will be presented, and nowhere else.
   */
  async signIn(tokens: TokenSet, account: Account, identity?: ConfigIdentity, origin?: TokenOrigin, profile?: string): Promise<AccountSummary> {
    const registry = this.registry(profile);
    return summaryOf(profile ?? this.firstProfile, registry, await registry.signIn(tokens, account, identity, origin));
  }

  /** Stores (undefined: removes) the profile's client secret in the key stores; returns where. */
  async setClientSecret(secret: string | undefined, profile?: string): Promise<{ where: string; clientId: string; issuer: string }> {
    await this.ready;
    return this.registry(profile).setClientSecret(secret);
  }

  /** Deletes the refresh token, signs out every window and revokes it at the IdP; a failed revocation is returned as a warning. */
  async signOut(id: string): Promise<{ revocationWarning?: string }> {
    const held = this.holder(id);
    return held ? held.registry.signOut(id) : {};
  }

  async signOutAccount(account?: string, profile?: string): Promise<SignedOut | undefined> {
    await this.ready;
    const registry = this.registry(profile);
    const entry = this.entryFor(registry, account);
    if (!entry) {
      if (account) throw new TokenRelayError('not-signed-in', `Token Relay has no session for the account "${account}".`, 'Run "tokenrelay status" to see who is signed in.');
      return undefined;
    }
    const { revocationWarning } = await registry.signOut(entry.slotKey);
    return { id: entry.account.id, label: entry.account.label, ...(revocationWarning ? { revocationWarning } : {}) };
  }

  /** The account with this id or label; without one, the primary account. */
  private entryFor(registry: AccountRegistry, account: string | undefined): AccountEntry | undefined {
    return account
      ? registry.accounts().find((e) => e.account.id === account || e.account.label === account)
      : registry.primary();
  }

  /** Lets requestSignIn (a terminal's `tokenrelay sign-in`) show this window's sign-in UI, for a profile. */
  setSignInHandler(handler: (profile: string) => Promise<void>): void {
    this.signInHandler = handler;
  }

  async requestSignIn(profile?: string): Promise<void> {
    this.registry(profile);
    if (!this.signInHandler) throw new TokenRelayError('not-signed-in', 'You are not signed in to Token Relay.', 'Sign in from the Accounts menu.');
    await this.signInHandler(profile ?? this.firstProfile);
  }

  // ---- configuration and lifecycle -----------------------------------------------------------

  /** Applies (new) settings to the first profile: reloads its accounts, and signs out those of a previous issuer/client. */
  configure(result: SettingsResult): Promise<void> {
    return this.registry().configure(result);
  }

  /**
   * Applies every profile's settings (the first one's included): a new profile gets its registry, a
   * changed one is reconfigured alone, a removed one is closed without signing anyone out (its
   * sessions stay in the store for when it comes back). No profile's change touches another's.
   */
  async configureProfiles(results: ReadonlyMap<string, SettingsResult>): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [profile, result] of results) {
      if (!this.registries.has(profile)) {
        if (!this.options.registryFor) throw new TokenRelayError('config', `This host serves only the profile "${this.firstProfile}".`);
        this.adopt(profile, this.options.registryFor(profile));
      }
      pending.push(this.registry(profile).configure(result));
    }
    for (const [profile, held] of [...this.registries]) {
      if (profile === this.firstProfile || results.has(profile)) continue;
      this.registries.delete(profile);
      pending.push(closeRegistry(held));
    }
    await Promise.all(pending);
    this.changed();
  }

  settingsResult(profile?: string): SettingsResult | undefined {
    return this.registry(profile).settingsResult();
  }

  /** The OAuth client of the profile's configuration, for the sign-in flows. */
  oauthClient(profile?: string): OAuthClient {
    return this.registry(profile).oauthClient();
  }

  /** Fires on any change of accounts, tokens or status, made in this window or another, in any profile. */
  onDidChange(listener: () => void): Disposable {
    this.changeListeners.add(listener);
    return { dispose: () => { this.changeListeners.delete(listener); } };
  }

  /**
   * A sign-in starts (undefined) or failed (its message): the failure stays in status() (the
   * tooltip, `tokenrelay status`) until the next attempt, so it can still be read after the
   * notification is gone.
   */
  recordSignInAttempt(problem: string | undefined): void {
    this.signInProblem = problem === undefined ? undefined : redactor.redact(problem);
    this.changed();
  }

  /** Things the user should be told: a cleared unreadable secret, accounts signed out by a config change. */
  onNotice(listener: (notice: RegistryNotice) => void): Disposable {
    this.noticeListeners.add(listener);
    return { dispose: () => { this.noticeListeners.delete(listener); } };
  }

  /** After dispose: sessions this host held alone and could neither save nor hand to a live one (a one-shot host's exit). */
  lostOnExit(): TokenRelayError | undefined {
    return [...this.registries.values()].flatMap(({ registry }) => registry.lostOnExit())[0];
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.registries.values()].map((held) => closeRegistry(held)));
  }
}

/** Stops forwarding a registry's events and closes it. */
function closeRegistry({ registry, subscriptions }: { registry: AccountRegistry; subscriptions: Disposable[] }): Promise<void> {
  for (const s of subscriptions) s.dispose();
  return registry.dispose();
}

/** VS Code's session options name an account by id and label; another profile may know the same id. */
function sameAccount(profile: string, entry: AccountEntry, wanted: { id?: string; label?: string }): boolean {
  const label = labelOf(profile, entry.account);
  if (wanted.id !== undefined && wanted.label !== undefined) return entry.account.id === wanted.id && (label === wanted.label || entry.account.label === wanted.label);
  return entry.account.id === wanted.id || label === wanted.label || entry.account.label === wanted.label;
}

/** An account's label in menus: another profile's accounts say which profile they belong to. */
export function labelOf(profile: string, account: Account): string {
  return profile === DEFAULT_PROFILE ? account.label : `${account.label} (${profile})`;
}

function summaryOf(profile: string, registry: AccountRegistry, entry: AccountEntry): AccountSummary {
  return { id: entry.slotKey, account: entry.account, profile, signedIn: entry.broker.peek() !== undefined, status: registry.statusOf(entry) };
}

function sessionOf(profile: string, entry: AccountEntry, accessToken: string, scopes: readonly string[] | undefined): AccountSession {
  return {
    id: entry.slotKey,
    accessToken,
    account: { id: entry.account.id, label: labelOf(profile, entry.account) },
    // A session of another profile says so: a consumer can ask for it again with the same scopes.
    scopes: [...(scopes ?? []), ...(profile === DEFAULT_PROFILE ? [] : [`${PROFILE_SCOPE_PREFIX}${profile}`])],
    profile,
  };
}

function notSignedIn(): TokenRelayError {
  return new TokenRelayError('not-signed-in', 'You are not signed in to Token Relay.', 'Sign in from the Accounts menu or the Token Relay status bar item.');
}
