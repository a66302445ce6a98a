// The status bar indicator. `presentStatus` turns the AccountService's status into text, tooltip
// and click action (pure, unit-tested); StatusBar applies it and re-renders on every change, from
// this window or another, and every second while an expiry countdown is shown.
import * as vscode from 'vscode';
import type { ServiceStatus } from '../app/tokenService.ts';
import { labelOf, type AccountService } from '../app/accountService.ts';
import { formatRemaining } from './format.ts';
import { redactor } from '../core/redact.ts';

export const STATUS_ITEM_ID = 'status';
export const STATUS_ITEM_NAME = 'Token Relay';

export interface OtherAccount {
  label: string;
  state: string;
}

export interface StatusInput {
  status: ServiceStatus;
  others?: OtherAccount[];
  /** Renders clock times; injectable so tests do not depend on the time zone. */
  formatTime?: (at: number) => string;
}

export interface Presentation {
  text: string;
  /** Markdown. */
  tooltip: string;
  background?: 'warning' | 'error';
  command: string;
  /** True when the text or tooltip depends on the clock (expiry countdown). */
  ticking: boolean;
}

// Keyed by string: a state added later is shown by its own name rather than breaking the item.
const STATE_WORDS: Record<string, string | undefined> = {
  'signed-out': 'signed out',
  'signed-in': 'signed in',
  refreshing: 'refreshing the access token',
  'needs-sign-in': 'sign-in needed',
  offline: 'identity provider unreachable, retrying',
  degraded: 'cannot save to the slot directory; kept in memory, retrying',
  error: 'error',
};

/** Escapes what would turn text into markup, links or theme icons. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#!|<>~$]/g, (c) => `\\${c}`);
}

export function presentStatus(input: StatusInput, now: number): Presentation {
  const s = input.status;
  const label = s.account?.label;
  const formatTime = input.formatTime ?? ((at: number) => new Date(at).toLocaleTimeString());
  const lines: string[] = [];
  let text: string;
  let background: Presentation['background'];
  let command = 'tokenrelay.statusMenu';
  const isConfig = s.state === 'error' && s.errorCode === 'config';
  if (isConfig && s.unconfigured) return setUpPresentation();

  switch (s.state) {
    case 'signed-out':
      text = '$(account) Token Relay: Sign in';
      command = 'tokenrelay.signIn';
      break;
    case 'signed-in':
      // The key marks it as Token Relay's account next to GitHub's or Microsoft's.
      text = `$(key) ${label ?? 'Token Relay'}`;
      break;
    case 'refreshing':
      text = `$(sync~spin) ${label ?? 'Token Relay'}`;
      break;
    case 'needs-sign-in':
      text = '$(warning) Token Relay: Sign in again';
      background = 'warning';
      break;
    case 'offline':
      text = `$(cloud-offline) ${label ?? 'Token Relay'}`;
      break;
    case 'degraded':
      text = `$(warning) ${label ?? 'Token Relay'}`;
      background = 'warning';
      break;
    default:
      text = '$(error) Token Relay';
      background = 'error';
  }

  // Other accounts (other profiles) are counted in the text and listed in the tooltip.
  const more = (input.others ?? []).length;
  if (more && label && s.state !== 'signed-out' && s.state !== 'needs-sign-in') text += ` +${more}`;

  lines.push(`**Token Relay** — ${isConfig ? 'configuration problem' : STATE_WORDS[s.state] ?? s.state}`);
  lines.push('');
  if (s.error && s.state !== 'signed-in') lines.push(`$(${isConfig ? 'gear' : 'info'}) ${escapeMarkdown(redactor.redact(s.error))}`, '');
  if (s.lastSignInError) lines.push(`$(error) Last sign-in failed: ${escapeMarkdown(redactor.redact(s.lastSignInError))}`, '');
  const facts: string[] = [];
  if (label) facts.push(`Account: ${escapeMarkdown(label)}`);
  if (s.issuer) facts.push(`Issuer: ${escapeMarkdown(s.issuer)}`);
  let ticking = false;
  if (s.expiresAt !== undefined && s.state !== 'signed-out' && s.state !== 'needs-sign-in') {
    const left = s.expiresAt - now;
    facts.push(left > 0 ? `Access token expires in ${formatRemaining(left)}` : 'Access token expired');
    ticking = true;
  }
  if (s.lastRefresh) {
    const who = s.lastRefresh.byThisProcess ? 'this window' : describeWriter(s.lastRefresh.writer);
    facts.push(`Last refresh: ${formatTime(s.lastRefresh.at)} by ${who}`);
  }
  if (facts.length) lines.push(facts.join('  \n'), '');
  const others = input.others ?? [];
  if (others.length) {
    lines.push(`Other accounts: ${others.map((o) => `${escapeMarkdown(o.label)} (${STATE_WORDS[o.state] ?? o.state})`).join(', ')}`, '');
  }
  const actions = isConfig
    ? ['[Open Settings](command:tokenrelay.openSettings)', '[Show Log](command:tokenrelay.showLog)']
    : s.state === 'signed-out' || s.state === 'needs-sign-in'
      ? ['[Sign In](command:tokenrelay.signIn)', '[Show Log](command:tokenrelay.showLog)']
      : ['[Refresh Now](command:tokenrelay.refreshNow)', '[Sign Out](command:tokenrelay.signOut)', '[Show Log](command:tokenrelay.showLog)'];
  lines.push(actions.join(' · '));
  return { text, tooltip: lines.join('\n'), background, command, ticking };
}

/** A fresh install: a neutral invitation to set up, never a red error. */
function setUpPresentation(): Presentation {
  const tooltip = ['**Token Relay** — not set up yet', '',
    'Tell Token Relay which identity provider to use, then sign in once for every window and terminal.', '',
    '[Set Up](command:tokenrelay.setUp) · [Open Settings](command:tokenrelay.openSettings)'].join('\n');
  return { text: '$(key) Token Relay: Set up', tooltip, command: 'tokenrelay.setUp', ticking: false };
}

function describeWriter(writer: { pid: number; label?: string }): string {
  // The words of `tokenrelay status`.
  if (!writer.label || writer.label === 'window') return `another process (pid ${writer.pid})`;
  return `${writer.label} (pid ${writer.pid})`;
}

export const TOOLTIP_COMMANDS = ['tokenrelay.setUp', 'tokenrelay.openSettings', 'tokenrelay.showLog', 'tokenrelay.signIn', 'tokenrelay.signOut', 'tokenrelay.refreshNow'];

export class StatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private readonly subscription: { dispose(): void };
  private ticker: NodeJS.Timeout | undefined;
  private last: Presentation | undefined;

  constructor(private readonly service: AccountService) {
    this.item = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Right, 100);
    this.item.name = STATUS_ITEM_NAME;
    this.subscription = service.onDidChange(() => this.render());
    void service.ready.then(() => {
      this.render();
      this.item.show();
    });
  }

  /** What the item shows now (also used by tests). */
  presentation(now = Date.now()): Presentation {
    // The account a consumer used last (any profile), else the first profile's; the tooltip lists the rest.
    const shown = this.service.lastUsedAccount() ?? this.service.primary();
    const status = this.service.status(shown?.profile);
    const others = this.service.accounts()
      .filter((a) => a.id !== shown?.id && (a.signedIn || a.status.state !== 'signed-out'))
      .map((a) => ({ label: labelOf(a.profile, a.account), state: a.status.state }));
    const problems = this.service.profileProblems()
      .filter((p) => p.profile !== shown?.profile && !p.unconfigured)
      .map((p) => ({ label: `profile "${p.profile}"`, state: 'error' }));
    const label = shown && status.account ? labelOf(shown.profile, status.account) : undefined;
    return presentStatus({ status: label && status.account ? { ...status, account: { ...status.account, label } } : status, others: [...others, ...problems] }, now);
  }

  render(): void {
    const p = this.presentation();
    const changed = !this.last || p.text !== this.last.text || p.tooltip !== this.last.tooltip
      || p.background !== this.last.background || p.command !== this.last.command;
    if (changed) {
      this.item.text = p.text;
      const tooltip = new vscode.MarkdownString(p.tooltip, true);
      tooltip.isTrusted = { enabledCommands: TOOLTIP_COMMANDS };
      this.item.tooltip = tooltip;
      this.item.backgroundColor = p.background ? new vscode.ThemeColor(`statusBarItem.${p.background}Background`) : undefined;
      this.item.command = p.command;
      this.item.accessibilityInformation = { label: `Token Relay: ${p.text.replace(/\$\([^)]*\)\s*/g, '')}` };
      this.last = p;
    }
    this.setTicking(p.ticking);
  }

  private setTicking(on: boolean): void {
    if (on && !this.ticker) {
      this.ticker = setInterval(() => this.render(), 1000);
      this.ticker.unref();
    } else if (!on && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  dispose(): void {
    this.setTicking(false);
    this.subscription.dispose();
    this.item.dispose();
  }
}
