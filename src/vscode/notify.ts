// Notifications: their text may quote the identity provider (an error description), so every one
// passes the one redactor before VS Code shows it.
import * as vscode from 'vscode';
import { redactor } from '../core/redact.ts';

export type Severity = 'info' | 'warning' | 'error';

export function notify(severity: Severity, message: string, ...buttons: string[]): Thenable<string | undefined> {
  const text = redactor.redact(message);
  if (severity === 'error') return vscode.window.showErrorMessage(text, ...buttons);
  if (severity === 'warning') return vscode.window.showWarningMessage(text, ...buttons);
  return vscode.window.showInformationMessage(text, ...buttons);
}
