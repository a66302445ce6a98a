// The `tokenrelay` AuthenticationProvider: sessions are the registry's signed-in accounts, with
// tokens from the one refresh path. onDidChangeSessions is derived by diffing what this window
// last announced against what its brokers hold now, so a change made in any window (seen through
// SecretStorage or the shared journal) is announced the same way as one made here.
import * as vscode from 'vscode';
import { describeError } from '../core/errors.ts';
import { fingerprint } from '../core/fingerprint.ts';
import type { Logger } from '../core/types.ts';
import type { AccountEntry, AccountRegistry } from './accountRegistry.ts';

export const PROVIDER_ID = 'tokenrelay';
export const PROVIDER_LABEL = 'Token Relay';

/** Runs the interactive sign-in and resolves with the account signed in. */
export interface SignInRunner {
  run(): Promise<AccountEntry>;
}

interface Announced {
  session: vscode.AuthenticationSession;
  tokenFp: string;
}

export class TokenRelayAuthProvider implements vscode.AuthenticationProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.AuthenticationProviderAuthenticationSessionsChangeEvent>();
  readonly onDidChangeSessions = this.emitter.event;
  private announced = new Map<string, Announced>();
  private readonly subscription: { dispose(): void };

  constructor(private readonly registry: AccountRegistry, private readonly signIn: SignInRunner, private readonly log: Logger) {
    this.subscription = registry.onDidChange(() => this.announceChanges());
  }

  async getSessions(scopes: readonly string[] | undefined, options?: vscode.AuthenticationProviderSessionOptions): Promise<vscode.AuthenticationSession[]> {
    await this.registry.ready;
    const settings = this.registry.currentSettings();
    if (!settings) return [];
    if (scopes && !covers(settings.oauth.scopes, scopes)) {
      this.log.debug(`No session for scopes [${scopes.join(' ')}]: tokenrelay.scopes is [${settings.oauth.scopes.join(' ')}]`);
      return [];
    }
    const wanted = options?.account;
    const entries = this.registry.signedIn().filter((e) => !wanted || e.account.id === wanted.id || e.account.label === wanted.label);
    const sessions: vscode.AuthenticationSession[] = [];
    for (const entry of entries) {
      try {
        // Refreshes when needed, or waits for a refresh in flight in any window.
        const grant = await entry.broker.getToken();
        sessions.push(this.sessionOf(entry, grant.accessToken));
      } catch (err) {
        this.log.warn(`No current token for ${entry.account.label}: ${describeError(err)}`);
      }
    }
    return sessions;
  }

  async createSession(scopes: readonly string[]): Promise<vscode.AuthenticationSession> {
    await this.registry.ready;
    const settings = this.registry.currentSettings();
    if (settings && !covers(settings.oauth.scopes, scopes)) {
      const missing = scopes.filter((s) => !settings.oauth.scopes.includes(s));
      const message = `Token Relay is not configured for the scope(s) ${missing.join(', ')}. Add them to tokenrelay.scopes.`;
      void vscode.window.showErrorMessage(message, 'Open Settings').then((pick) => {
        if (pick) void vscode.commands.executeCommand('tokenrelay.openSettings');
      });
      throw new Error(message);
    }
    const entry = await this.signIn.run();
    const grant = await entry.broker.getToken();
    this.announceChanges();
    return this.sessionOf(entry, grant.accessToken);
  }

  async removeSession(sessionId: string): Promise<void> {
    await this.registry.ready;
    if (!this.registry.entry(sessionId)) return;
    await this.registry.signOut(sessionId);
    this.announceChanges();
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }

  private sessionOf(entry: AccountEntry, accessToken: string): vscode.AuthenticationSession {
    return {
      id: entry.slotKey,
      accessToken,
      account: { id: entry.account.id, label: entry.account.label },
      scopes: [...(this.registry.currentSettings()?.oauth.scopes ?? [])],
    };
  }

  /** Diffs the sessions this window holds now against the last announcement and fires the difference. */
  private announceChanges(): void {
    const now = new Map<string, Announced>();
    for (const entry of this.registry.signedIn()) {
      const token = entry.broker.peek()!.tokens.accessToken;
      now.set(entry.slotKey, { session: this.sessionOf(entry, token), tokenFp: fingerprint(token) });
    }
    const added: vscode.AuthenticationSession[] = [];
    const removed: vscode.AuthenticationSession[] = [];
    const changed: vscode.AuthenticationSession[] = [];
    for (const [id, current] of now) {
      const before = this.announced.get(id);
      if (!before) added.push(current.session);
      else if (before.tokenFp !== current.tokenFp || before.session.account.label !== current.session.account.label) changed.push(current.session);
    }
    for (const [id, before] of this.announced) if (!now.has(id)) removed.push(before.session);
    this.announced = now;
    if (added.length || removed.length || changed.length) {
      this.log.debug(`Sessions changed: ${added.length} added, ${removed.length} removed, ${changed.length} changed`);
      this.emitter.fire({ added, removed, changed });
    }
  }
}

function covers(configured: readonly string[], requested: readonly string[]): boolean {
  return requested.every((s) => configured.includes(s));
}
