// "Token Relay: Install 'tokenrelay' Command in PATH", like VS Code's own "Install 'code' command":
// the launchers `tokenrelay setup path` writes, shown to the user before anything is written.
import * as vscode from 'vscode';
import { homedir } from 'node:os';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/types.ts';
import { defaultBinDir, installLaunchers, planLaunchers } from '../app/launcher.ts';
import { notify } from './notify.ts';

export async function installLauncherCommand(extensionPath: string, log: Logger): Promise<void> {
  try {
    const plan = planLaunchers(extensionPath, defaultBinDir(homedir()), process.env);
    const changing = plan.files.filter((f) => f.action !== 'keep');
    if (changing.length) {
      const pick = await vscode.window.showInformationMessage(
        `Install the 'tokenrelay' command in ${defaultBinDir(homedir())}?`,
        { modal: true, detail: `Writes ${changing.map((f) => f.path).join(' and ')}: small launchers that run the newest installed Token Relay, so they keep working after extension updates.` },
        'Install',
      );
      if (pick !== 'Install') return;
      installLaunchers(plan);
      log.info(`Installed the launchers: ${changing.map((f) => f.path).join(', ')}`);
    }
    const where = plan.onPath ? 'Any terminal can now run it.' : `Add ${defaultBinDir(homedir())} to your PATH: ${plan.pathHint}`;
    void notify('info', `Token Relay: 'tokenrelay' is installed. ${where}`);
  } catch (err) {
    log.error(`Installing the command failed: ${describeError(err)}`);
    void notify('error', `Token Relay: could not install the 'tokenrelay' command: ${describeError(err)}`);
  }
}
