// The only way anything in a window gets a token or an account's status. The AuthenticationProvider,
// the commands, the extension API and the terminal socket all come here, so each of them gets the
// same checks (configuration, configured scopes, account selection, unreadable secrets) before a
// broker is asked. Wraps the AccountRegistry, whose brokers never leave src/app.
import { redactor } from '../core/redact.ts';
import { TokenRelayError, describeError } from '../core/errors.ts';
import type { AccessGrant, BrokerStatus } from '../core/broker.ts';
import type { Account, Disposable, Logger, TokenOrigin, TokenSet } from '../core/types.ts';
import type { OAuthClient } from '../oauth/oauthClient.ts';
import { displayIssuer } from '../oauth/serverConfig.ts';
import type { AccountEntry, AccountRegistry, RegistryNotice } from './accountRegistry.ts';
import type { Settings, SettingsResult } from './settings.ts';
import type { ConfigIdentity } from './slots.ts';
import type { ServiceStatus, SignedOut, TokenRequest, TokenService } from './tokenService.ts';

/** One account as consumers see it: a snapshot, never a broker. */
export interface AccountSummary {
  /** The account's slot key: the same in every window, and its AuthenticationSession id. */
  readonly id: string;
  readonly account: Account;
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
}

export interface SessionFilter {
  scopes?: readonly string[];
  /** Only the account with this id or this label (as VS Code's session options name it). */
  account?: { id?: string; label?: string };
}

export class AccountService implements TokenService {
  /** Resolves once the first configuration has been loaded. */
  readonly ready: Promise<void>;
  private signInHandler: (() => Promise<void>) | undefined;
  /** Why this process's last interactive sign-in failed; kept until the next attempt. */
  private signInProblem: string | undefined;
  private readonly ownChanges = new Set<() => void>();

  constructor(private readonly registry: AccountRegistry, private readonly log: Logger) {
    this.ready = registry.ready;
  }

  // ---- tokens: every path runs checkRequest, then tokenOf ------------------------------------

  /** A current token for the requested account (default: the primary one). The terminal and API path. */
  async getToken(request: TokenRequest = {}): Promise<AccessGrant> {
    await this.ready;
    this.checkRequest(request.scopes);
    const entry = this.entryFor(request.account);
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
    this.checkRequest(scopes);
    const entry = this.registry.entry(id);
    if (!entry) throw new TokenRelayError('not-signed-in', 'That Token Relay session no longer exists.', 'Sign in again from the Accounts menu.');
    return sessionOf(entry, (await this.tokenOf(entry, {})).accessToken, this.registry.currentScopes());
  }

  /**
   * The sessions of every account this window holds (getSessions), each with a current token.
   * Rejects for requests getToken refuses; an account whose token cannot be had now is left out.
   */
  async sessions(filter: SessionFilter = {}): Promise<AccountSession[]> {
    await this.ready;
    this.checkRequest(filter.scopes);
    const wanted = filter.account;
    const entries = this.registry.signedIn().filter((e) => !wanted || e.account.id === wanted.id || e.account.label === wanted.label);
    const sessions: AccountSession[] = [];
    for (const entry of entries) {
      try {
        // Refreshes when needed, or waits for a refresh in flight in any window.
        sessions.push(sessionOf(entry, (await this.tokenOf(entry, {})).accessToken, this.registry.currentScopes()));
      } catch (err) {
        this.log.warn(`No current token for ${entry.account.label}: ${describeError(err)}`);
      }
    }
    return sessions;
  }

  /**
   * The sessions as this window holds them now, without I/O or refresh: for announcing changes
   * (onDidChangeSessions carries them). Callers that use a token ask sessions() or getToken().
   */
  heldSessions(): AccountSession[] {
    return this.registry.signedIn().map((e) => sessionOf(e, e.broker.peek()!.tokens.accessToken, this.registry.currentScopes()));
  }

  /** Forces one refresh of the primary account, shared with every window (Refresh Token Now). */
  async refreshNow(): Promise<AccessGrant> {
    await this.ready;
    this.checkRequest();
    const entry = this.registry.primary();
    const held = entry?.broker.peek();
    if (!entry || !held) throw notSignedIn();
    // Presenting the current token as rejected is what makes the one shared refresh happen.
    return this.tokenOf(entry, { rejectedAccessToken: held.tokens.accessToken }, true);
  }

  /** The error for scopes the configuration does not cover; undefined when covered or not configured yet. */
  scopeProblem(scopes: readonly string[] = []): TokenRelayError | undefined {
    const configured = this.registry.currentScopes();
    const missing = configured ? scopes.filter((s) => !configured.includes(s)) : [];
    if (!missing.length) return undefined;
    return new TokenRelayError('config', `Token Relay is not configured for the scope(s) ${missing.join(', ')}.`,
      'Add them to tokenrelay.scopes and sign in again.');
  }

  private checkRequest(scopes?: readonly string[]): Settings {
    const settings = this.registry.currentSettings();
    if (!settings) throw this.registry.configProblem();
    const problem = this.scopeProblem(scopes);
    if (problem) throw problem;
    return settings;
  }

  /** `force`: the user asked for the refresh (Refresh Now), which the bound on rejection reports leaves alone. */
  private async tokenOf(entry: AccountEntry, request: TokenRequest, force?: true): Promise<AccessGrant> {
    if (entry.corrupt && !entry.broker.peek()) throw entry.corrupt;
    return entry.broker.getToken({ rejectedAccessToken: request.rejectedAccessToken, minValidityMs: request.minValidityMs, force, resource: request.resource });
  }

  // ---- status --------------------------------------------------------------------------------

  /** The primary account's status (what the status bar and `tokenrelay status` show). Never a token. */
  status(): ServiceStatus {
    const settings = this.registry.currentSettings();
    const identity = settings?.identity;
    // The issuer as configured, never the token endpoint URL that keys a no-discovery configuration.
    const base = { lastSignInError: this.signInProblem, issuer: settings ? displayIssuer(settings.oauth) ?? identity?.issuer : undefined, clientId: identity?.clientId };
    const result = this.registry.settingsResult();
    if (result && !result.ok) {
      return { ...base, state: 'error', error: result.problem.message, errorCode: 'config', unconfigured: result.unconfigured || undefined };
    }
    const entry = this.registry.primary();
    if (!entry) return { ...base, state: 'signed-out' };
    return { ...base, ...this.registry.statusOf(entry) };
  }

  /** Every account of the current configuration, first sign-in first (the same order in every window). */
  accounts(): AccountSummary[] {
    return this.registry.accounts().map((e) => this.summaryOf(e));
  }

  /** The account getToken serves by default. */
  primary(): AccountSummary | undefined {
    const entry = this.registry.primary();
    return entry && this.summaryOf(entry);
  }

  account(id: string): AccountSummary | undefined {
    const entry = this.registry.entry(id);
    return entry && this.summaryOf(entry);
  }

  private summaryOf(entry: AccountEntry): AccountSummary {
    return { id: entry.slotKey, account: entry.account, signedIn: entry.broker.peek() !== undefined, status: this.registry.statusOf(entry) };
  }

  // ---- sign-in / sign-out --------------------------------------------------------------------

  /**
   * Persists a sign-in the UI completed as the account's next generation, visible to every window.
   * `origin` (the sign-in result's) is where its refresh token will be presented, and nowhere else.
   */
  async signIn(tokens: TokenSet, account: Account, identity?: ConfigIdentity, origin?: TokenOrigin): Promise<AccountSummary> {
    return this.summaryOf(await this.registry.signIn(tokens, account, identity, origin));
  }

  /** Stores (undefined: removes) the configuration's client secret in the key stores; returns where. */
  async setClientSecret(secret: string | undefined): Promise<{ where: string; clientId: string; issuer: string }> {
    await this.ready;
    return this.registry.setClientSecret(secret);
  }

  /** Deletes the refresh token, signs out every window and revokes it at the IdP; a failed revocation is returned as a warning. */
  signOut(id: string): Promise<{ revocationWarning?: string }> {
    return this.registry.signOut(id);
  }

  async signOutAccount(account?: string): Promise<SignedOut | undefined> {
    await this.ready;
    const entry = this.entryFor(account);
    if (!entry) {
      if (account) throw new TokenRelayError('not-signed-in', `Token Relay has no session for the account "${account}".`, 'Run "tokenrelay status" to see who is signed in.');
      return undefined;
    }
    const { revocationWarning } = await this.registry.signOut(entry.slotKey);
    return { id: entry.account.id, label: entry.account.label, ...(revocationWarning ? { revocationWarning } : {}) };
  }

  /** The account with this id or label; without one, the primary account. */
  private entryFor(account: string | undefined): AccountEntry | undefined {
    return account
      ? this.registry.accounts().find((e) => e.account.id === account || e.account.label === account)
      : this.registry.primary();
  }

  /** Lets requestSignIn (a terminal's `tokenrelay sign-in`) show this window's sign-in UI. */
  setSignInHandler(handler: () => Promise<void>): void {
    this.signInHandler = handler;
  }

  async requestSignIn(): Promise<void> {
    if (!this.signInHandler) throw new TokenRelayError('not-signed-in', 'You are not signed in to Token Relay.', 'Sign in from the Accounts menu.');
    await this.signInHandler();
  }

  // ---- configuration and lifecycle -----------------------------------------------------------

  /** Applies (new) settings: reloads the accounts, and signs out those of a previous issuer/client. */
  configure(result: SettingsResult): Promise<void> {
    return this.registry.configure(result);
  }

  settingsResult(): SettingsResult | undefined {
    return this.registry.settingsResult();
  }

  /** The OAuth client of the current configuration, for the sign-in flows. */
  oauthClient(): OAuthClient {
    return this.registry.oauthClient();
  }

  /** Fires on any change of accounts, tokens or status, made in this window or another. */
  onDidChange(listener: () => void): Disposable {
    const registry = this.registry.onDidChange(() => listener());
    this.ownChanges.add(listener);
    return { dispose: () => { registry.dispose(); this.ownChanges.delete(listener); } };
  }

  /**
   * A sign-in starts (undefined) or failed (its message): the failure stays in status() (the
   * tooltip, `tokenrelay status`) until the next attempt, so it can still be read after the
   * notification is gone.
   */
  recordSignInAttempt(problem: string | undefined): void {
    this.signInProblem = problem === undefined ? undefined : redactor.redact(problem);
    for (const listener of this.ownChanges) listener();
  }

  /** Things the user should be told: a cleared unreadable secret, accounts signed out by a config change. */
  onNotice(listener: (notice: RegistryNotice) => void): Disposable {
    return this.registry.onNotice(listener);
  }

  /** After dispose: sessions this host held alone and could neither save nor hand to a live one (a one-shot host's exit). */
  lostOnExit(): TokenRelayError | undefined {
    return this.registry.lostOnExit()[0];
  }

  dispose(): Promise<void> {
    return this.registry.dispose();
  }
}

function sessionOf(entry: AccountEntry, accessToken: string, scopes: readonly string[] | undefined): AccountSession {
  return {
    id: entry.slotKey,
    accessToken,
    account: { id: entry.account.id, label: entry.account.label },
    scopes: [...(scopes ?? [])],
  };
}

function notSignedIn(): TokenRelayError {
  return new TokenRelayError('not-signed-in', 'You are not signed in to Token Relay.', 'Sign in from the Accounts menu or the Token Relay status bar item.');
}
