// One broker per signed-in account of the current configuration, shared with every other process
// of this user through the store's `slots` directory (storeRoot.ts). Discovers accounts other windows sign in (watching the slots
// directory), retires the accounts of a previous issuer/client, and clears corrupt secrets.
// Only AccountService uses it: an entry's broker never leaves src/app, so no consumer can get a
// token past the service's checks.
import { EventEmitter } from 'node:events';
import { watch, promises as fs, type FSWatcher } from 'node:fs';
import { Broker, type BrokerEvent, type BrokerOptions, type BrokerStatus } from '../core/broker.ts';
import { peekSlotState } from '../core/sealedStore.ts';
import { parseCredentials } from '../core/credentials.ts';
import { TokenRelayError, describeError, isTokenRelayError } from '../core/errors.ts';
import type { Account, Disposable, Logger, SecretStore, TokenOrigin } from '../core/types.ts';
import type { KeyStore } from '../core/keyStore.ts';
import type { SiblingChannel } from '../core/siblings.ts';
import { OAuthClient, isAnonymous } from '../oauth/oauthClient.ts';
import { displayIssuer, type OAuthConfig } from '../oauth/serverConfig.ts';
import { checkClientSecret, readClientSecret, writeClientSecret } from './clientSecret.ts';
import { secretStoreKeys } from '../core/secretStoreKeys.ts';
import type { Settings, SettingsResult } from './settings.ts';
import { moveLegacySlots } from './storeMove.ts';
import {
  identityOf, keySecretOf, listMetas, readMeta, sameIdentity, secretKeyOf, slotDirOf, slotKeyOf, writeMeta,
  type ConfigIdentity, type SlotMeta,
} from './slots.ts';

/** globalState as far as the registry needs it (remembers the last configuration across restarts). */
export interface Memento {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): PromiseLike<void>;
}

export interface RegistryOptions {
  /** The store's `slots` directory (storeRoot.ts): shared by every process of this user. */
  slotsRoot: string;
  /** Where this host kept slots before the per-user store (a window's `<globalStorage>/slots`): moved from once. */
  legacySlotsRoot?: string;
  /** VS Code's SecretStorage (a v1 session is upgraded from it); `noSecrets` outside VS Code. */
  store: SecretStore;
  /** Where each slot's K is kept, in order (default: `store` alone). The host's composition root chooses. */
  keyStores?: KeyStore[];
  log: Logger;
  memento?: Memento;
  /** Written into the journal so other windows can say who refreshed. */
  label?: string;
  /** Each slot's channel to the other processes of this user (the host's composition root chooses: a unix socket directory). */
  siblings: (log: Logger) => SiblingChannel;
  /** Tests: tighter timings, no proactive timer, a fake clock. */
  brokerOptions?: Partial<Pick<BrokerOptions, 'clock' | 'lockStaleMs' | 'lockWaitMs' | 'viewCatchUpMs' | 'proactive' | 'refreshTimeoutMs' | 'backoff' | 'awaitLateAnswers' | 'prepareClient' | 'answerSiblings' | 'primeLockAtStart' | 'hooks'>>;
  /** false for a one-shot host: it reads the slots once and never needs to discover a later sign-in. */
  watchSlots?: boolean;
  /**
   * false outside VS Code: a profile of the configuration file is shared with other hosts (and
   * `sign-in --issuer` rewrites it), so another issuer or client there is another profile, never a
   * reason to sign everyone out of the previous one. A window's settings keep the default.
   */
  signOutPrevious?: boolean;
  /** The profile this registry serves (profiles.ts): names its memento key and its messages. Default "default". */
  profile?: string;
  /**
   * True when another profile uses this issuer and client now: a profile that moved away from it
   * then signs nobody out, because those accounts are the other profile's.
   */
  identityInUse?: (identity: ConfigIdentity) => boolean;
  /** Fallback rescan of the slots directory, for file systems without reliable change events. */
  rescanIntervalMs?: number;
}

export interface AccountEntry {
  readonly slotKey: string;
  account: Account;
  readonly createdAt: number;
  readonly broker: Broker;
  /** Set when this slot's stored secret was unreadable and has been cleared. */
  corrupt?: TokenRelayError;
}

export interface RegistryChange {
  reason: 'broker' | 'accounts' | 'config';
  slotKey?: string;
  event?: BrokerEvent;
}

export interface RegistryNotice {
  kind: 'corrupt-secret' | 'config-signed-out' | 'account-replaced';
  message: string;
  account?: Account;
}

const LAST_CONFIG_KEY = 'tokenrelay.lastConfig';
const LIVE_STATES = new Set<BrokerStatus['state']>(['signed-in', 'refreshing', 'offline']);

export class AccountRegistry {
  private readonly events = new EventEmitter();
  private readonly entries = new Map<string, AccountEntry>();
  private result: SettingsResult | undefined;
  private settings: Settings | undefined;
  private client: OAuthClient | undefined;
  private runtimeKey: string | undefined;
  private lastOAuth: OAuthConfig | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private readyResolve!: () => void;
  private disposed = false;
  private readonly lost: TokenRelayError[] = [];
  /** Resolves once the first configuration has been loaded. */
  readonly ready: Promise<void> = new Promise((resolve) => { this.readyResolve = resolve; });

  constructor(private readonly opts: RegistryOptions) {
    this.events.setMaxListeners(50);
  }

  // ---- configuration -------------------------------------------------------------------------

  /** Applies (new) settings: reloads brokers, and signs out the accounts of a previous issuer/client. */
  configure(result: SettingsResult): Promise<void> {
    return this.enqueue(async () => {
      try {
        await this.applySettings(result);
      } finally {
        this.readyResolve();
        this.emitChange({ reason: 'config' });
      }
    });
  }

  private async applySettings(result: SettingsResult): Promise<void> {
    this.result = result;
    const next = result.ok ? result.settings : undefined;
    if (!next) {
      // Invalid or half-typed settings: stop serving, sign nobody out.
      this.settings = undefined;
      this.client = undefined;
      this.runtimeKey = undefined;
      await this.closeAll();
      return;
    }
    const runtimeKey = JSON.stringify([next.oauth, next.refreshSkewMs, next.reuseGraceMs]);
    this.settings = next;
    if (runtimeKey === this.runtimeKey) return; // e.g. only signInFlow changed
    const previous = [...this.entries.values()];
    this.entries.clear();
    const last = this.opts.signOutPrevious === false ? undefined : this.opts.memento?.get<OAuthConfig>(this.lastConfigKey()) ?? this.lastOAuth;
    if (last && isOAuthConfig(last) && !sameIdentity(identityOf(last), next.identity) && !this.opts.identityInUse?.(identityOf(last))) {
      await this.retire(last, previous);
    }
    await Promise.all(previous.map((e) => e.broker.dispose().catch(() => undefined)));
    // The settings changed while this host ran (not its start): that may be the fix a refusal named.
    const changedWhileRunning = this.lastOAuth !== undefined;
    this.runtimeKey = runtimeKey;
    this.client = this.newClient(next.oauth);
    this.lastOAuth = next.oauth;
    await Promise.resolve(this.opts.memento?.update(this.lastConfigKey(), next.oauth)).catch(() => undefined);
    await fs.mkdir(this.opts.slotsRoot, { recursive: true, mode: 0o700 });
    const legacy = this.opts.legacySlotsRoot;
    if (legacy && legacy !== this.opts.slotsRoot) {
      await moveLegacySlots({
        from: legacy, to: this.opts.slotsRoot, identity: next.identity, log: this.opts.log,
        openOld: (slotDir, slotKey, account) => this.createBroker(slotKey, account, this.client!, false, slotDir),
      });
    }
    this.startWatching();
    await this.loadSlots();
    if (changedWhileRunning) for (const entry of this.entries.values()) entry.broker.liftRefusal();
  }

  /** Each profile remembers its own last configuration: another profile's change is not this one's. */
  private lastConfigKey(): string {
    const profile = this.opts.profile;
    return profile === undefined || profile === 'default' ? LAST_CONFIG_KEY : `${LAST_CONFIG_KEY}/${profile}`;
  }

  /** A client for `config`, with its client secret (if any) read from the key stores when first needed. */
  private newClient(config: OAuthConfig): OAuthClient {
    const identity = identityOf(config);
    return new OAuthClient(config, undefined, () => readClientSecret(this.keyStores(), identity, this.opts.log));
  }

  /** Where secrets are kept: the host's key stores, else VS Code's secret storage alone. */
  private keyStores(): KeyStore[] {
    return this.opts.keyStores ?? [secretStoreKeys(this.opts.store)];
  }

  /**
   * Stores (or, with undefined, removes) the client secret of the current configuration in the key
   * stores; it is read again on the next request. Returns where it is kept. Never logged.
   */
  async setClientSecret(secret: string | undefined): Promise<{ where: string; clientId: string; issuer: string }> {
    const settings = this.settings;
    if (!settings) throw this.configProblem();
    const where = await writeClientSecret(this.keyStores(), settings.identity, secret === undefined ? undefined : checkClientSecret(secret), this.opts.log);
    this.client?.forgetSecret();
    for (const entry of this.entries.values()) entry.broker.liftRefusal(); // an invalid_client may have been waiting on it
    this.opts.log.info(`${secret === undefined ? 'Removed the client secret' : 'Stored a client secret'} for ${settings.identity.clientId} (${where})`);
    return { where, clientId: settings.identity.clientId, issuer: displayIssuer(settings.oauth) ?? settings.identity.issuer };
  }

  /** Signs out (and revokes) every account of a configuration that is no longer in use. */
  private async retire(old: OAuthConfig, open: AccountEntry[]): Promise<void> {
    const identity = identityOf(old);
    const client = this.newClient(old);
    const signedOut: Account[] = [];
    for (const meta of await listMetas(this.opts.slotsRoot)) {
      if (!sameIdentity(meta, identity)) continue;
      let broker = open.find((e) => e.slotKey === meta.slotKey)?.broker;
      const temporary = !broker;
      try {
        if (!broker) {
          const state = peekSlotState(slotDirOf(this.opts.slotsRoot, meta.slotKey));
          if (!state || state === 'signed-out') continue;
          broker = await this.createBroker(meta.slotKey, meta.account, client, this.opts.brokerOptions?.proactive ?? false);
        }
        const state = broker.status().state;
        if (state === 'signed-out') continue;
        await broker.signOut();
        if (LIVE_STATES.has(state)) signedOut.push(meta.account);
        this.opts.log.info(`Signed out ${meta.account.label}: the issuer or client id changed`);
      } catch (err) {
        this.opts.log.warn(`Could not sign out ${meta.account.label} of the previous configuration: ${describeError(err)}`);
      } finally {
        if (temporary) await broker?.dispose().catch(() => undefined);
      }
    }
    if (signedOut.length) {
      const who = signedOut.map((a) => a.label).join(', ');
      this.notice({
        kind: 'config-signed-out',
        message: `Token Relay signed out ${who} because ${this.opts.profile && this.opts.profile !== 'default' ? `the issuer or clientId of profile "${this.opts.profile}"` : 'tokenrelay.issuer or tokenrelay.clientId'} changed (that session belonged to ${displayIssuer(old) ?? identity.issuer}). Sign in again for the new configuration.`,
      });
    }
  }

  // ---- slots ---------------------------------------------------------------------------------

  private startWatching(): void {
    if (this.watcher || this.disposed || this.opts.watchSlots === false) return;
    try {
      this.watcher = watch(this.opts.slotsRoot, { persistent: false }, (_type, name) => {
        if (name && String(name).startsWith('.')) return; // temp files of a meta write
        this.scheduleRescan();
      });
      this.watcher.on('error', (err) => this.opts.log.debug(`Slots watcher stopped: ${describeError(err)}`));
    } catch (err) {
      this.opts.log.warn(`Cannot watch ${this.opts.slotsRoot} (${describeError(err)}); other windows' sign-ins are picked up periodically`);
    }
    this.rescanTimer = setInterval(() => this.scheduleRescan(), this.opts.rescanIntervalMs ?? 30_000);
    this.rescanTimer.unref();
  }

  private scheduleRescan(): void {
    if (this.debounce || this.disposed) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.enqueue(() => this.loadSlots());
    }, 50);
    this.debounce.unref();
  }

  /** Opens a broker for every slot of this configuration that is, or was, signed in. */
  private async loadSlots(): Promise<void> {
    const settings = this.settings;
    const client = this.client;
    if (!settings || !client || this.disposed) return;
    const wanted = (await listMetas(this.opts.slotsRoot)).filter((meta) => sameIdentity(meta, settings.identity)
      && !this.entries.has(meta.slotKey) && meta.slotKey === slotKeyOf(settings.identity, meta.account.id));
    // In parallel: a slot whose secret view is stale may wait for it to catch up.
    const opened = await Promise.all(wanted.map(async (meta) => {
      try {
        if (peekSlotState(slotDirOf(this.opts.slotsRoot, meta.slotKey)) === 'signed-out') return false; // signed out before this window started
        await this.openEntry(meta.slotKey, meta.account, meta.createdAt, client);
        return true;
      } catch (err) {
        this.opts.log.warn(`Cannot open the session of ${meta.account.label}: ${describeError(err)}`);
        return false;
      }
    }));
    const added = opened.includes(true);
    if (added) this.emitChange({ reason: 'accounts' });
  }

  private async createBroker(slotKey: string, account: Account, client: OAuthClient, proactive?: boolean, slotDir = slotDirOf(this.opts.slotsRoot, slotKey)): Promise<Broker> {
    return Broker.create({
      ...this.opts.brokerOptions,
      slotDir,
      secretKey: secretKeyOf(slotKey),
      keySecret: keySecretOf(slotKey),
      store: this.opts.store,
      keyStores: this.opts.keyStores,
      client,
      log: prefixedLogger(this.opts.log, `[${account.label}]`),
      siblings: this.opts.siblings(this.opts.log),
      label: this.opts.label,
      refreshSkewMs: this.settings?.refreshSkewMs,
      reuseGraceMs: this.settings?.reuseGraceMs,
      proactive: proactive ?? this.opts.brokerOptions?.proactive,
    });
  }

  private async openEntry(slotKey: string, account: Account, createdAt: number, client: OAuthClient): Promise<AccountEntry> {
    const broker = await this.createBroker(slotKey, account, client);
    if (this.disposed) {
      await broker.dispose();
      throw new TokenRelayError('cancelled', 'This window is closing.');
    }
    const entry: AccountEntry = { slotKey, account, createdAt, broker };
    broker.onEvent((event) => this.onBrokerEvent(entry, event));
    this.entries.set(slotKey, entry);
    const held = broker.peek();
    if (held) entry.account = held.account;
    if (broker.status().state === 'error') void this.checkCorrupt(entry);
    return entry;
  }

  private onBrokerEvent(entry: AccountEntry, event: BrokerEvent): void {
    if (this.entries.get(entry.slotKey) !== entry) return; // a disposed generation of this registry
    if (event.type === 'signed-in' || event.type === 'refreshed') {
      entry.corrupt = undefined;
      if (event.status.account) entry.account = event.status.account;
    }
    if (event.type === 'error') void this.checkCorrupt(entry);
    this.emitChange({ reason: 'broker', slotKey: entry.slotKey, event });
  }

  /** A stored secret that cannot be parsed is cleared (other accounts untouched) and sign-in offered. */
  private async checkCorrupt(entry: AccountEntry): Promise<void> {
    const key = secretKeyOf(entry.slotKey);
    let corrupt: TokenRelayError | undefined;
    try {
      const raw = await this.opts.store.get(key);
      if (raw !== undefined) parseCredentials(raw);
    } catch (err) {
      if (isTokenRelayError(err, 'corrupt-secret')) corrupt = err;
    }
    if (!corrupt && entry.broker.status().errorCode === 'corrupt-secret' && !entry.corrupt) {
      corrupt = new TokenRelayError('corrupt-secret', entry.broker.status().error ?? 'The stored Token Relay credentials are unreadable.');
    }
    if (!corrupt && entry.broker.status().errorCode === 'key-missing' && !entry.corrupt) {
      // K is damaged or gone in every key store of this process and no live process holds it: the
      // sealed records stay, so K put back (a keyring restored, a window opened) recovers them.
      const stores = (this.opts.keyStores ?? [secretStoreKeys(this.opts.store)]).map((k) => k.description).join(', ');
      entry.corrupt = new TokenRelayError('corrupt-secret',
        `The stored sign-in for ${entry.account.label} cannot be read: the key that opens it is missing or damaged in ${stores}, and no other Token Relay process holds it.`,
        'Open a window or agent that still holds it, or put the key back (Token Relay then recovers by itself); else sign in again. No other account is changed, and the stored records are kept.');
      this.opts.log.warn(`The seal key of ${entry.account.label} is in no key store of this process, and no other process holds it`);
      this.notice({ kind: 'corrupt-secret', message: entry.corrupt.message, account: entry.account });
      this.emitChange({ reason: 'broker', slotKey: entry.slotKey });
      return;
    }
    if (!corrupt) return;
    entry.corrupt = new TokenRelayError('corrupt-secret',
      `The stored sign-in for ${entry.account.label} was unreadable and has been cleared.`, 'Sign in again; no other account was changed.');
    this.opts.log.warn(`${corrupt.message.split('. ')[0]} (${entry.account.label}); clearing that secret`);
    await this.opts.store.delete(key).catch((err) => this.opts.log.warn(`Clearing the unreadable secret failed: ${describeError(err)}`));
    this.notice({ kind: 'corrupt-secret', message: entry.corrupt.message, account: entry.account });
    this.emitChange({ reason: 'broker', slotKey: entry.slotKey });
  }

  // ---- sign-in / sign-out ------------------------------------------------------------------------

  /** The OAuth client of the current configuration (for the sign-in flows). */
  oauthClient(): OAuthClient {
    if (!this.client) throw this.configProblem();
    return this.client;
  }

  /** Persists a fresh sign-in as this account's next generation, visible to every window; `origin`: where it came from (the sign-in result's). */
  signIn(tokens: Parameters<Broker['signIn']>[0], account: Account, identity?: ConfigIdentity, origin?: TokenOrigin): Promise<AccountEntry> {
    return this.enqueue(async () => {
      const settings = this.settings;
      const client = this.client;
      if (!settings || !client) throw this.configProblem();
      if (identity && !sameIdentity(identity, settings.identity)) {
        throw new TokenRelayError('config', 'The issuer or client id changed while signing in.', 'Sign in again.');
      }
      const slotKey = slotKeyOf(settings.identity, account.id);
      const existing = await readMeta(this.opts.slotsRoot, slotKey);
      const entry = this.entries.get(slotKey) ?? await this.openEntry(slotKey, account, existing?.createdAt ?? Date.now(), client);
      if (isAnonymous(account)) await this.replaceAnonymous(entry, settings);
      await entry.broker.signIn(tokens, account, origin);
      entry.account = account;
      entry.corrupt = undefined;
      const meta: SlotMeta = {
        v: 1, slotKey, issuer: settings.identity.issuer, clientId: settings.identity.clientId, account,
        createdAt: existing?.createdAt ?? entry.createdAt, updatedAt: Date.now(),
      };
      await writeMeta(this.opts.slotsRoot, meta); // after the journal: a window reacting to it finds the sign-in
      this.opts.log.info(`Signed in as ${account.label}`);
      this.emitChange({ reason: 'accounts', slotKey });
      return entry;
    });
  }

  /**
   * A server that names no account gives every sign-in the same slot, so a new one replaces the
   * previous grant: that grant is revoked first (RFC 7009, through sign-out), never left behind
   * where nobody could sign out of it, and the user is told.
   */
  private async replaceAnonymous(entry: AccountEntry, settings: Settings): Promise<void> {
    const state = entry.broker.status().state;
    if (state === 'signed-out') return;
    const { revocationFailed } = await entry.broker.signOut();
    const where = displayIssuer(settings.oauth) ?? settings.identity.issuer;
    const message = revocationFailed
      ? `Token Relay signed out the previous session at ${where}: this identity provider names no account, so a new sign-in replaces the previous one. ${revocationWarning(revocationFailed, where)}`
      : `Token Relay signed out the previous session at ${where} and revoked its grant: this identity provider names no account, so a new sign-in replaces the previous one.`;
    this.opts.log.info(`Replaced the previous session at ${where}: its grant was ${revocationFailed ? 'not revoked' : 'revoked'} (the server names no account)`);
    if (LIVE_STATES.has(state) || revocationFailed) this.notice({ kind: 'account-replaced', message });
  }

  /**
   * Deletes the refresh token and signs out every window, then revokes it at the IdP. A revocation
   * that failed does not undo the sign-out: `revocationWarning` says so, for the user.
   */
  async signOut(slotKey: string): Promise<{ revocationWarning?: string }> {
    const entry = this.entries.get(slotKey);
    if (!entry) throw new TokenRelayError('not-signed-in', 'That Token Relay session no longer exists.');
    const { revocationFailed } = await entry.broker.signOut();
    entry.corrupt = undefined;
    this.opts.log.info(`Signed out ${entry.account.label}`);
    this.emitChange({ reason: 'accounts', slotKey });
    if (!revocationFailed) return {};
    const settings = this.settings;
    return { revocationWarning: revocationWarning(revocationFailed, (settings && displayIssuer(settings.oauth)) ?? settings?.identity.issuer ?? 'the identity provider') };
  }

  // ---- queries -------------------------------------------------------------------------------

  settingsResult(): SettingsResult | undefined {
    return this.result;
  }

  currentSettings(): Settings | undefined {
    return this.settings;
  }

  /** The scopes a session carries: the defaults lose `openid` and `profile` once discovery finds plain OAuth 2.0. */
  currentScopes(): readonly string[] | undefined {
    return this.client?.knownScopes() ?? this.settings?.oauth.scopes;
  }

  /** Accounts in a stable order (first sign-in first), the same in every window. */
  accounts(): AccountEntry[] {
    return [...this.entries.values()].sort((a, b) => a.createdAt - b.createdAt || a.slotKey.localeCompare(b.slotKey));
  }

  entry(slotKey: string): AccountEntry | undefined {
    return this.entries.get(slotKey);
  }

  /** Accounts this window holds current credentials for. */
  signedIn(): AccountEntry[] {
    return this.accounts().filter((e) => e.broker.peek() !== undefined);
  }

  /** The account consumers get by default: the first signed-in one, else the first needing attention. */
  primary(): AccountEntry | undefined {
    const all = this.accounts();
    return all.find((e) => e.broker.peek() !== undefined)
      ?? all.find((e) => e.corrupt || ['needs-sign-in', 'error', 'offline', 'refreshing'].includes(e.broker.status().state))
      ?? all.find((e) => e.broker.status().state !== 'signed-out');
  }

  statusOf(entry: AccountEntry): BrokerStatus {
    const status = entry.broker.status();
    if (entry.corrupt && status.state !== 'signed-in' && status.state !== 'refreshing') {
      return { ...status, state: 'needs-sign-in', error: entry.corrupt.message, errorCode: 'corrupt-secret' };
    }
    return status;
  }

  // ---- events --------------------------------------------------------------------------------

  onDidChange(listener: (change: RegistryChange) => void): Disposable {
    this.events.on('change', listener);
    return { dispose: () => this.events.off('change', listener) };
  }

  onNotice(listener: (notice: RegistryNotice) => void): Disposable {
    this.events.on('notice', listener);
    return { dispose: () => this.events.off('notice', listener) };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.readyResolve();
    this.watcher?.close();
    this.watcher = undefined;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.debounce) clearTimeout(this.debounce);
    await this.queue.catch(() => undefined);
    await this.closeAll();
    this.events.removeAllListeners();
  }

  // ---- helpers -------------------------------------------------------------------------------

  private async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.broker.dispose().catch(() => undefined)));
    for (const e of all) {
      const lost = e.broker.lostOnExit();
      if (lost) this.lost.push(lost);
    }
  }

  /** Sessions a host leaving on its own could neither save nor hand over (Broker.lostOnExit), once disposed. */
  lostOnExit(): TokenRelayError[] {
    return [...this.lost];
  }

  /** Why there is no usable configuration: the settings problem, or "not configured yet". */
  configProblem(): TokenRelayError {
    if (this.result && !this.result.ok) return this.result.problem;
    return new TokenRelayError('config', 'Token Relay is not configured yet.', 'Set tokenrelay.issuer and tokenrelay.clientId in your settings.');
  }

  private emitChange(change: RegistryChange): void {
    if (!this.disposed) this.events.emit('change', change);
  }

  private notice(notice: RegistryNotice): void {
    if (!this.disposed) this.events.emit('notice', notice);
  }

  /** Configuration, slot discovery and sign-in persistence run one at a time. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Prefixes every line with the account a broker serves. */
function prefixedLogger(inner: Logger, prefix: string): Logger {
  return {
    trace: (m) => inner.trace(`${prefix} ${m}`),
    debug: (m) => inner.debug(`${prefix} ${m}`),
    info: (m) => inner.info(`${prefix} ${m}`),
    warn: (m) => inner.warn(`${prefix} ${m}`),
    error: (m) => inner.error(`${prefix} ${m}`),
  };
}

function isOAuthConfig(value: unknown): value is OAuthConfig {
  const c = value as OAuthConfig;
  return !!c && typeof c === 'object' && typeof c.clientId === 'string' && Array.isArray(c.scopes);
}

/** What the user is told when sign-out's revocation failed: the server's answer and what it means. */
export function revocationWarning(failed: string, where: string): string {
  return `Signed out on this computer. ${failed} The grant may still be active at ${where}; revoke it in the provider's account page.`;
}
