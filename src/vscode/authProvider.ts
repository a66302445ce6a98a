// The `tokenrelay` AuthenticationProvider over the AccountService: sessions are the signed-in
// accounts, with tokens from the one refresh path and the same checks as every other consumer.
// onDidChangeSessions is derived by diffing what this window last announced against what it holds
// now, so a change made in any window (seen through SecretStorage or the shared journal) is
// announced the same way as one made here.
import * as vscode from 'vscode';
import { describeError } from '../core/errors.ts';
import { fingerprint } from '../core/fingerprint.ts';
import type { Logger } from '../core/types.ts';
import type { AccountService, AccountSession, AccountSummary } from '../app/accountService.ts';
import { notify } from './notify.ts';

export const PROVIDER_ID = 'tokenrelay';
export const PROVIDER_LABEL = 'Token Relay';

/** Runs the interactive sign-in and resolves with the account signed in. */
export interface SignInRunner {
  run(options?: { profile?: string }): Promise<AccountSummary>;
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

  constructor(private readonly service: AccountService, private readonly signIn: SignInRunner, private readonly log: Logger) {
    this.subscription = service.onDidChange(() => this.announceChanges());
  }

  async getSessions(scopes: readonly string[] | undefined, options?: vscode.AuthenticationProviderSessionOptions): Promise<vscode.AuthenticationSession[]> {
    try {
      return (await this.service.sessions({ scopes, account: options?.account })).map(toSession);
    } catch (err) {
      // A provider answers "no session"; the reason (not configured, a scope not in tokenrelay.scopes) goes to the log.
      this.log.debug(`No session for scopes [${scopes?.join(' ') ?? ''}]: ${describeError(err)}`);
      return [];
    }
  }

  async createSession(scopes: readonly string[]): Promise<vscode.AuthenticationSession> {
    await this.service.ready;
    const problem = this.service.scopeProblem(scopes);
    if (problem) {
      void notify('error', problem.message, 'Open Settings').then((pick) => {
        if (pick) void vscode.commands.executeCommand('tokenrelay.openSettings');
      });
      throw problem;
    }
    // A `profile:<name>` scope signs in to that profile (checked above: scopeProblem names an unknown one).
    const signedIn = await this.signIn.run({ profile: this.service.profileOfScopes(scopes) });
    const session = await this.service.session(signedIn.id, scopes);
    this.announceChanges();
    return toSession(session);
  }

  async removeSession(sessionId: string): Promise<void> {
    await this.service.ready;
    if (!this.service.account(sessionId)) return;
    const { revocationWarning } = await this.service.signOut(sessionId);
    this.announceChanges();
    if (revocationWarning) void notify('warning', `Token Relay: ${revocationWarning}`);
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }

  /** Diffs the sessions this window holds now against the last announcement and fires the difference. */
  private announceChanges(): void {
    const now = new Map<string, Announced>();
    for (const held of this.service.heldSessions()) {
      now.set(held.id, { session: toSession(held), tokenFp: fingerprint(held.accessToken) });
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

/** The account label names its profile (other than "default"), so the Accounts menu tells them apart. */
function toSession(s: AccountSession): vscode.AuthenticationSession {
  return { id: s.id, accessToken: s.accessToken, account: { id: s.account.id, label: s.account.label }, scopes: [...s.scopes] };
}
