// The palette commands and the status bar menu, over the AccountService. Errors are shown as their
// message (which names the fix), never as a stack trace.
import * as vscode from 'vscode';
import { describeError, isTokenRelayError } from '../core/errors.ts';
import type { Logger } from '../core/types.ts';
import { labelOf, type AccountService, type AccountSummary } from '../app/accountService.ts';
import type { SignInController } from './signIn.ts';
import { formatRemaining } from './format.ts';
import { notify } from './notify.ts';
import { installLauncherCommand } from './installLauncher.ts';

export const COMMANDS = {
  signIn: 'tokenrelay.signIn',
  signOut: 'tokenrelay.signOut',
  refreshNow: 'tokenrelay.refreshNow',
  showLog: 'tokenrelay.showLog',
  statusMenu: 'tokenrelay.statusMenu',
  openSettings: 'tokenrelay.openSettings',
  setUp: 'tokenrelay.setUp',
  installLauncher: 'tokenrelay.installLauncher',
  setClientSecret: 'tokenrelay.setClientSecret',
} as const;

/** contributes.walkthroughs' id, qualified by the extension's id. */
export const WALKTHROUGH = 'tokenrelay.tokenrelay#setup';

export interface CommandDeps {
  service: AccountService;
  signIn: SignInController;
  channel: { show(preserveFocus?: boolean): void };
  log: Logger;
  /** The installed extension's folder (bin/, dist/), for the PATH launcher. */
  extensionPath: string;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { service, signIn, channel, log } = deps;
  const installLauncher = () => installLauncherCommand(deps.extensionPath, log);

  const signInCommand = async (profile?: unknown): Promise<void> => {
    await service.ready;
    // With several profiles, the user says which (a caller may name it: tokenrelay.signIn "work").
    let chosen = typeof profile === 'string' ? profile : undefined;
    if (chosen === undefined && service.profiles().length > 1) {
      const pick = await vscode.window.showQuickPick(service.profiles().map((name) => ({ label: name, description: service.status(name).issuer ?? '' })),
        { placeHolder: 'Sign in to which Token Relay profile?' });
      if (!pick) return;
      chosen = pick.label;
    }
    await signIn.run({ profile: chosen }).catch(() => undefined); // the controller already told the user
  };

  const signOut = async (): Promise<void> => {
    await service.ready;
    const candidates = service.accounts().filter((a) => a.signedIn || a.status.state !== 'signed-out');
    const picked = await pickAccount(candidates, 'Sign out of which Token Relay account?');
    if (!picked) {
      if (!candidates.length) void vscode.window.showInformationMessage('Token Relay: you are not signed in.');
      return;
    }
    try {
      const { revocationWarning } = await service.signOut(picked.id);
      if (revocationWarning) void notify('warning', `Token Relay: ${revocationWarning}`);
      else void vscode.window.showInformationMessage(`Token Relay: signed out ${picked.account.label} in every window.`);
    } catch (err) {
      log.error(`Sign-out failed: ${describeError(err)}`);
      void notify('error', `Token Relay sign-out failed: ${describeError(err)}`);
    }
  };

  const refreshNow = async (): Promise<void> => {
    await service.ready;
    if (!service.primary()?.signedIn) {
      const pick = await vscode.window.showInformationMessage('Token Relay: you are not signed in.', 'Sign In');
      if (pick) await signInCommand();
      return;
    }
    try {
      const grant = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Token Relay: refreshing' },
        () => service.refreshNow(),
      );
      void vscode.window.showInformationMessage(
        `Token Relay: access token refreshed for ${grant.account.label}; it expires in ${formatRemaining(grant.expiresAt - Date.now())}.`);
    } catch (err) {
      log.error(`Refresh failed: ${describeError(err)}`);
      const needsSignIn = isTokenRelayError(err, 'needs-sign-in') || isTokenRelayError(err, 'not-signed-in');
      const pick = await notify('error', `Token Relay: ${describeError(err)}`, ...(needsSignIn ? ['Sign In'] : ['Show Log']));
      if (pick === 'Sign In') await signInCommand();
      else if (pick === 'Show Log') channel.show(true);
    }
  };

  /** Asks for the secret in a password box; empty removes it. The value goes to the key stores only. */
  const setClientSecret = async (): Promise<void> => {
    await service.ready;
    const status = service.status();
    if (!status.clientId) {
      void notify('error', 'Token Relay: set tokenrelay.issuer and tokenrelay.clientId first; the client secret belongs to that client.');
      return;
    }
    const secret = await vscode.window.showInputBox({
      title: 'Token Relay: Set Client Secret',
      prompt: `The client secret of ${status.clientId} at ${status.issuer ?? 'the identity provider'}. It is kept in the key store, never in settings. Leave empty to remove it.`,
      password: true,
      ignoreFocusOut: true,
    });
    if (secret === undefined) return; // dismissed
    try {
      const { where } = await service.setClientSecret(secret === '' ? undefined : secret);
      void vscode.window.showInformationMessage(secret === ''
        ? `Token Relay: removed the client secret of ${status.clientId}.`
        : `Token Relay: the client secret of ${status.clientId} is kept in ${where}.`);
    } catch (err) {
      log.error(`Setting the client secret failed: ${describeError(err)}`);
      void notify('error', `Token Relay: ${describeError(err)}`);
    }
  };

  const openSettings = async (): Promise<void> => {
    await vscode.commands.executeCommand('workbench.action.openSettings', '@ext:tokenrelay.tokenrelay');
  };

  const setUp = async (): Promise<void> => {
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH, false);
  };

  const statusMenu = async (): Promise<void> => {
    await service.ready;
    const accounts = service.accounts();
    const signedIn = accounts.some((a) => a.signedIn);
    const status = service.status();
    type Item = vscode.QuickPickItem & { run: () => Promise<void> | void };
    const signInItem: Item = { label: '$(sign-in) Sign In', description: signedIn ? 'add or renew an account' : undefined, run: signInCommand };
    const settingsItem: Item = { label: '$(gear) Open Settings', run: openSettings };
    const items: Item[] = [
      signInItem,
      ...(signedIn || accounts.some((a) => a.status.state !== 'signed-out')
        ? [{ label: '$(sign-out) Sign Out', description: 'in every window', run: signOut }] : []),
      ...(signedIn ? [{ label: '$(sync) Refresh Now', run: refreshNow }] : []),
      { label: '$(output) Show Log', run: () => channel.show(true) },
      settingsItem,
      { label: '$(terminal) Install \'tokenrelay\' Command in PATH', run: installLauncher },
    ];
    // The first item is the one preselected: the action that fits the state.
    const fitting = status.state === 'error' && status.errorCode === 'config' ? settingsItem
      : signedIn && status.state !== 'needs-sign-in' ? items.find((i) => i.run === refreshNow) : signInItem;
    if (fitting) items.unshift(...items.splice(items.indexOf(fitting), 1));
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
    vscode.commands.registerCommand(COMMANDS.setUp, setUp),
    vscode.commands.registerCommand(COMMANDS.installLauncher, installLauncher),
    vscode.commands.registerCommand(COMMANDS.setClientSecret, setClientSecret),
  ];
}

async function pickAccount(accounts: AccountSummary[], title: string): Promise<AccountSummary | undefined> {
  if (accounts.length <= 1) return accounts[0];
  const pick = await vscode.window.showQuickPick(
    accounts.map((a) => ({ label: labelOf(a.profile, a.account), description: a.account.id !== a.account.label ? a.account.id : undefined, summary: a })),
    { title },
  );
  return pick?.summary;
}
