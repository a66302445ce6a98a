// The `tokenrelay.*` settings as VS Code holds them, handed to the vscode-free validation in
// src/app/settings.ts.
import * as vscode from 'vscode';
import { parseSettings, type SettingsResult } from '../app/settings.ts';

export const SECTION = 'tokenrelay';

/** The current effective `tokenrelay.*` settings. */
export function readSettings(): SettingsResult {
  const config = vscode.workspace.getConfiguration(SECTION);
  return parseSettings((key) => config.get(key));
}

/** True when the user changed a setting that affects sign-in or tokens. */
export function affectsSettings(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration(SECTION);
}
