// The palette commands and the status bar menu. Errors are shown as their message (which names
// the fix), never as a stack trace.
import * as vscode from 'vscode';
import { describeError, isTokenRelayError } from '../core/errors.ts';
import type { Logger } from '../core/types.ts';
import type { AccountEntry, AccountRegistry } from './accountRegistry.ts';
import type { SignInController } from './signIn.ts';
import { formatRemaining } from './format.ts';

export const COMMANDS = {
  signIn: 'tokenrelay.signIn',
  signOut: 'tokenrelay.signOut',
  refreshNow: 'tokenrelay.refreshNow',
  showLog: 'tokenrelay.showLog',
  statusMenu: 'tokenrelay.statusMenu',
  openSettings: 'tokenrelay.openSettings',
} as const;

export interface CommandDeps {
  registry: AccountRegistry;
  signIn: SignInController;
  channel: { show(preserveFocus?: boolean): void };
  log: Logger;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { registry, signIn, channel, log } = deps;

  const signInCommand = async (): Promise<void> => {
    await signIn.run().catch(() => undefined); // the controller already told the user
  };

  const signOut = async (): Promise<void> => {
    await registry.ready;
    const candidates = registry.accounts().filter((e) => e.broker.peek() || registry.statusOf(e).state !== 'signed-out');
    const entry = await pickAccount(candidates, 'Sign out of which Token Relay account?');
    if (!entry) {
      if (!candidates.length) void vscode.window.showInformationMessage('Token Relay: you are not signed in.');
      return;
    }
    try {
      await registry.signOut(entry.slotKey);
      void vscode.window.showInformationMessage(`Token Relay: signed out ${entry.account.label} in every window.`);
    } catch (err) {
      log.error(`Sign-out failed: ${describeError(err)}`);
      void vscode.window.showErrorMessage(`Token Relay sign-out failed: ${describeError(err)}`);
    }
  };

  const refreshNow = async (): Promise<void> => {
    await registry.ready;
    const entry = registry.primary();
    const held = entry?.broker.peek();
    if (!entry || !held) {
      const pick = await vscode.window.showInformationMessage('Token Relay: you are not signed in.', 'Sign In');
      if (pick) await signInCommand();
      return;
    }
    try {
      // Presenting the current token as rejected forces one refresh, shared with every window.
      const grant = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Token Relay: refreshing' },
        () => entry.broker.getToken({ rejectedAccessToken: held.tokens.accessToken }),
      );
      void vscode.window.showInformationMessage(
        `Token Relay: access token refreshed for ${grant.account.label}; it expires in ${formatRemaining(grant.expiresAt - Date.now())}.`);
    } catch (err) {
      log.error(`Refresh failed: ${describeError(err)}`);
      const needsSignIn = isTokenRelayError(err, 'needs-sign-in') || isTokenRelayError(err, 'not-signed-in');
      const pick = await vscode.window.showErrorMessage(`Token Relay: ${describeError(err)}`, ...(needsSignIn ? ['Sign In'] : ['Show Log']));
      if (pick === 'Sign In') await signInCommand();
      else if (pick === 'Show Log') channel.show(true);
    }
  };

  const openSettings = async (): Promise<void> => {
    await vscode.commands.executeCommand('workbench.action.openSettings', '@ext:tokenrelay.tokenrelay');
  };

  const statusMenu = async (): Promise<void> => {
    await registry.ready;
    const signedIn = registry.signedIn().length > 0;
    type Item = vscode.QuickPickItem & { run: () => Promise<void> | void };
    const items: Item[] = [
      { label: '$(sign-in) Sign In', description: signedIn ? 'add or renew an account' : undefined, run: signInCommand },
      ...(signedIn || registry.accounts().some((e) => registry.statusOf(e).state !== 'signed-out')
        ? [{ label: '$(sign-out) Sign Out', description: 'in every window', run: signOut }] : []),
      ...(signedIn ? [{ label: '$(sync) Refresh Now', run: refreshNow }] : []),
      { label: '$(output) Show Log', run: () => channel.show(true) },
      { label: '$(gear) Open Settings', run: openSettings },
    ];
    const status = registry.status();
    const pick = await vscode.window.showQuickPick(items, {
      title: 'Token Relay',
      placeHolder: status.account ? `${status.account.label} — ${status.state}` : status.error ?? 'Not signed in',
    });
    await pick?.run();
  };

  return [
    vscode.commands.registerCommand(COMMANDS.signIn, signInCommand),
    vscode.commands.registerCommand(COMMANDS.signOut, signOut),
    vscode.commands.registerCommand(COMMANDS.refreshNow, refreshNow),
    vscode.commands.registerCommand(COMMANDS.showLog, () => channel.show(true)),
    vscode.commands.registerCommand(COMMANDS.openSettings, openSettings),
    vscode.commands.registerCommand(COMMANDS.statusMenu, statusMenu),
  ];
}

async function pickAccount(entries: AccountEntry[], title: string): Promise<AccountEntry | undefined> {
  if (entries.length <= 1) return entries[0];
  const pick = await vscode.window.showQuickPick(
    entries.map((e) => ({ label: e.account.label, description: e.account.id !== e.account.label ? e.account.id : undefined, entry: e })),
    { title },
  );
  return pick?.entry;
}
