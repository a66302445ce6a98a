// Interactive sign-in: the loopback browser flow or the device-code flow, chosen by
// tokenrelay.signInFlow, each cancellable from a progress notification. Failures show one message
// that names the problem and offers the other flow ("Having trouble? Try device code").
import * as vscode from 'vscode';
import { TokenRelayError, describeError, isTokenRelayError } from '../core/errors.ts';
import type { Logger, SignedIn } from '../core/types.ts';
import type { OAuthClient } from '../oauth/oauthClient.ts';
import { signInWithLoopback } from '../oauth/loopbackFlow.ts';
import { signInWithDeviceCode, type DevicePrompt } from '../oauth/deviceFlow.ts';
import { signInFailure } from '../oauth/signInErrors.ts';
import type { AccountService, AccountSummary } from '../app/accountService.ts';
import type { SignInFlow } from '../app/settings.ts';
import { DEFAULT_PROFILE } from '../app/profiles.ts';
import { formatRemaining } from './format.ts';
import { BrowserOpener } from './browserOpener.ts';
import { notify } from './notify.ts';

export type ConcreteFlow = 'loopback' | 'deviceCode';

export const TRY_DEVICE_CODE = 'Having trouble? Try device code';
export const TRY_BROWSER = 'Having trouble? Try browser sign-in';
export const OPEN_SETTINGS = 'Open Settings';
export const COPY_AND_OPEN = 'Copy & Open';
export const COPY_ONLY = 'Copy Code';

export interface SignInOptions {
  flow?: ConcreteFlow;
  /** The profile to sign in to (default: the first, "default"). */
  profile?: string;
}

/**
 * `auto`: the loopback flow where the user's browser can reach this extension host's 127.0.0.1,
 * device code otherwise. Desktop remotes (ssh-remote, wsl, dev-container, codespaces…) → device
 * code. A web workbench reports its server authority as the remote name (code-server: "host:port");
 * when that host is itself a loopback address the browser runs on this machine and reaches the
 * loopback redirect (code-server on localhost), so loopback is used; any other host → device code.
 */
export function chooseFlow(setting: SignInFlow, remoteName: string | undefined): ConcreteFlow {
  if (setting !== 'auto') return setting;
  if (!remoteName) return 'loopback';
  return isLoopbackAuthority(remoteName) ? 'loopback' : 'deviceCode';
}

function isLoopbackAuthority(authority: string): boolean {
  const host = authority.startsWith('[') ? authority.slice(0, authority.indexOf(']') + 1) : authority.replace(/:\d+$/, '');
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** How long the browser sign-in waits before it asks whether the browser shows an error instead. */
export const STILL_WAITING_MS = 20_000;
export const CHECK_SETTINGS = 'Check Settings';

export class SignInController {
  private running: { profile: string; done: Promise<AccountSummary> } | undefined;
  /** The profile of the sign-in running (or last run): a retry with the other flow is for it too. */
  private profile: string | undefined;

  constructor(private readonly service: AccountService, private readonly log: Logger, private readonly stillWaitingMs = STILL_WAITING_MS) {}

  /** One sign-in at a time per window: a second request for the same profile joins the one in progress. */
  run(options: SignInOptions = {}): Promise<AccountSummary> {
    const profile = options.profile ?? DEFAULT_PROFILE;
    if (this.running?.profile === profile) return this.running.done;
    // Another profile's sign-in waits for the one in progress: one browser page at a time.
    const before = this.running?.done.catch(() => undefined);
    const done: Promise<AccountSummary> = Promise.resolve(before).then(() => this.signIn(options))
      .finally(() => { if (this.running?.done === done) this.running = undefined; });
    this.running = { profile, done };
    return done;
  }

  private async signIn(options: SignInOptions): Promise<AccountSummary> {
    await this.service.ready;
    const { profile } = options;
    this.profile = profile;
    const result = this.service.settingsResult(profile);
    if (result?.ok === false && result.unconfigured && (profile === undefined || profile === DEFAULT_PROFILE)) {
      // A fresh install: the walkthrough asks for the identity provider, then signs in.
      this.log.info('Sign-in asked for before anything is configured; opening the set-up walkthrough');
      void vscode.commands.executeCommand('tokenrelay.setUp');
      throw result.problem;
    }
    if (!result?.ok) {
      const problem = result?.ok === false ? result.problem
        : new TokenRelayError('config', 'Token Relay is not configured yet.', 'Set tokenrelay.issuer and tokenrelay.clientId in your settings.');
      this.offer(`Token Relay cannot sign in: ${problem.message}`, [OPEN_SETTINGS], 'error');
      throw problem;
    }
    const { settings } = result;
    const flow = options.flow ?? chooseFlow(settings.signInFlow, vscode.env.remoteName);
    const client = this.service.oauthClient(profile);
    this.service.recordSignInAttempt(undefined);
    this.log.info(`Signing in${profile ? ` to profile "${profile}"` : ''} with the ${flow === 'loopback' ? 'browser (loopback)' : 'device code'} flow`);
    let signedIn: SignedIn;
    try {
      signedIn = flow === 'loopback' ? await this.loopback(client) : await this.deviceCode(client);
    } catch (caught) {
      const err = signInFailure(caught, client.config);
      if (!isTokenRelayError(err, 'cancelled')) this.service.recordSignInAttempt(describeError(err));
      this.reportFailure(err, flow);
      throw isTokenRelayError(err, 'cancelled') ? new vscode.CancellationError() : err;
    }
    try {
      return await this.service.signIn(signedIn.tokens, signedIn.account, settings.identity, signedIn.origin, profile);
    } catch (err) {
      this.service.recordSignInAttempt(describeError(err));
      this.reportFailure(err, flow);
      throw err;
    }
  }

  private async loopback(client: OAuthClient): Promise<SignedIn> {
    return await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: 'Token Relay: Signing in with your browser',
      cancellable: true,
    }, async (progress, token) => {
      const abort = new AbortController();
      const opener = new BrowserOpener(this.log);
      let notOpened = false;
      let stillWaiting: NodeJS.Timeout | undefined;
      const cancelled = token.onCancellationRequested(() => abort.abort());
      try {
        return await signInWithLoopback(client, {
          signal: abort.signal,
          openBrowser: async (url) => {
            const redirect = new URL(url).searchParams.get('redirect_uri');
            this.log.info(`Waiting for the browser to return to ${redirect ?? 'the loopback redirect'}`);
            // Never throw from here: aborting makes the core close its listener and settle at once.
            // openExternal resolves once VS Code's "open external website?" dialog is answered, so
            // the hint waits for it, and never shows when the user declined.
            if (await opener.open(url)) {
              progress.report({ message: 'Complete the sign-in in the browser tab that opened. Closed it? Cancel here.' });
              // A server that dislikes a setting may show its own error page and never redirect back.
              stillWaiting = setTimeout(() => this.offerStillWaiting(abort), this.stillWaitingMs);
              stillWaiting.unref();
            } else {
              notOpened = true;
              abort.abort();
            }
          },
        });
      } catch (err) {
        if (notOpened && isTokenRelayError(err, 'cancelled')) {
          throw new TokenRelayError('cancelled', 'The browser was not opened, so sign-in stopped.', 'Allow opening the link, or use device code sign-in.');
        }
        throw err;
      } finally {
        clearTimeout(stillWaiting);
        cancelled.dispose();
        opener.dispose();
      }
    });
  }

  /** The browser sign-in is taking long: the page may show the identity provider's error. */
  private offerStillWaiting(abort: AbortController): void {
    this.log.info('The browser sign-in is still waiting; offering to check the settings');
    const profile = this.profile;
    void Promise.resolve(notify('info',
      'Token Relay is still waiting for the browser sign-in. If the page shows an error from your identity provider (an unknown client, a redirect it does not accept), check the settings.',
      CHECK_SETTINGS, TRY_DEVICE_CODE)).then((pick) => {
      if (pick === CHECK_SETTINGS) void vscode.commands.executeCommand('tokenrelay.openSettings');
      else if (pick === TRY_DEVICE_CODE) {
        abort.abort();
        void this.running?.done.catch(() => undefined).then(() => this.run({ flow: 'deviceCode', profile })).catch(() => undefined);
      }
    }, () => undefined);
  }

  private async deviceCode(client: OAuthClient): Promise<SignedIn> {
    return await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: 'Token Relay: Device sign-in',
      cancellable: true,
    }, async (progress, token) => {
      const abort = new AbortController();
      const opener = new BrowserOpener(this.log);
      const cancelled = token.onCancellationRequested(() => abort.abort());
      let ticker: NodeJS.Timeout | undefined;
      try {
        progress.report({ message: 'Requesting a code…' });
        return await signInWithDeviceCode(client, {
          signal: abort.signal,
          present: async (prompt) => {
            const show = () => progress.report({
              message: `Enter ${prompt.userCode} at ${prompt.verificationUri} — waiting for approval (code expires in ${formatRemaining(prompt.expiresAt - Date.now())}).`,
            });
            show();
            ticker = setInterval(show, 1000);
            ticker.unref();
            if (!(await this.presentCode(prompt, opener))) abort.abort();
          },
        });
      } finally {
        if (ticker) clearInterval(ticker);
        cancelled.dispose();
        opener.dispose();
      }
    });
  }

  /**
   * The modal with the user code; false when the user closed it (cancels the sign-in). Polling
   * starts once it is answered, so it never stays open after sign-in completes.
   */
  private async presentCode(prompt: DevicePrompt, opener: BrowserOpener): Promise<boolean> {
    const minutes = Math.max(1, Math.round((prompt.expiresAt - Date.now()) / 60_000));
    const pick = await vscode.window.showInformationMessage(
      `Token Relay: your sign-in code is ${prompt.userCode}`,
      {
        modal: true,
        detail: `Open ${prompt.verificationUri} in a browser (on any device) and enter the code ${prompt.userCode}. `
          + `It expires in about ${minutes} minute${minutes === 1 ? '' : 's'}. "${COPY_AND_OPEN}" copies the code and opens the page here. `
          + 'VS Code then waits for your approval; cancel it from the progress notification.',
      },
      COPY_AND_OPEN, COPY_ONLY,
    );
    if (pick !== COPY_AND_OPEN && pick !== COPY_ONLY) return false;
    // Neither may hold up polling: a browser clipboard can stall without permission, and
    // openExternal can wait on a confirmation dialog.
    const copied = Promise.resolve(vscode.env.clipboard.writeText(prompt.userCode))
      .catch((err) => this.log.debug(`Copying the code failed: ${describeError(err)}`));
    if (pick === COPY_AND_OPEN) {
      const page = prompt.verificationUriComplete ?? prompt.verificationUri;
      void Promise.race([copied, new Promise((r) => setTimeout(r, 1000).unref())])
        .then(() => opener.open(page))
        .then((opened) => { if (!opened) this.log.warn(`Could not open ${page}; open it yourself and enter ${prompt.userCode}`); });
    }
    return true;
  }

  private reportFailure(err: unknown, flow: ConcreteFlow): void {
    const other: ConcreteFlow = flow === 'loopback' ? 'deviceCode' : 'loopback';
    const offerOther = other === 'loopback' ? TRY_BROWSER : TRY_DEVICE_CODE;
    if (isTokenRelayError(err, 'cancelled')) {
      this.log.info(`Sign-in cancelled: ${describeError(err)}`);
      this.offer(`Token Relay: ${describeError(err)}`, [offerOther], 'info', other);
      return;
    }
    this.log.error(`Sign-in failed: ${describeError(err)}`);
    if (isTokenRelayError(err, 'offline')) {
      // Discovery failed: the other flow needs the same server, so only the settings can help.
      this.offer(`Token Relay sign-in failed: ${describeError(err)}`, [OPEN_SETTINGS], 'error');
    } else if (isTokenRelayError(err, 'config') || (isTokenRelayError(err, 'idp-rejected') && /tokenrelay\.\w/.test(err.fix ?? ''))) {
      this.offer(`Token Relay sign-in failed: ${describeError(err)}`, [OPEN_SETTINGS, offerOther], 'error', other);
    } else {
      this.offer(`Token Relay sign-in failed: ${describeError(err)}`, [offerOther], 'error', other);
    }
  }

  /** Shows a message without waiting on it; a click on a button acts later. */
  private offer(message: string, buttons: string[], severity: 'info' | 'error', other?: ConcreteFlow): void {
    const profile = this.profile;
    const shown = notify(severity, message, ...buttons);
    void Promise.resolve(shown).then((pick) => {
      if (pick === OPEN_SETTINGS) void vscode.commands.executeCommand('tokenrelay.openSettings');
      // After the failed sign-in has ended (it may still be unwinding): a new one, not a join.
      else if (pick && other) {
        void Promise.resolve(this.running?.done).catch(() => undefined).then(() => this.run({ flow: other, profile })).catch(() => undefined);
      }
    }, () => undefined);
  }
}
