// Opens identity-provider pages in the user's browser.
//
// In a web workbench (code-server, VS Code server) `openExternal` rewrites every
// http://localhost:N / 127.0.0.1:N / 0.0.0.0:N URL to the server's port proxy and DROPS its path
// and query (code-server 4.100: `proxyEndpointTemplate`), so an identity provider on this machine
// (a local or test IdP) would open without its authorization request. For such URLs this opens a
// tiny 127.0.0.1 launcher instead, whose page redirects to the full URL, which the browser then
// loads directly. Remote IdPs are opened as they are.
//
// The page carries the authorization request (state, nonce, PKCE challenge), so it is served once,
// at an unguessable path, to its own Host only (a DNS-rebinding page sends a foreign one). The path
// survives the proxy because it is appended to the proxy's own URL (asExternalUri of the launcher's
// root), which forwards the rest of its path and the browser's Host.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/types.ts';
import { answerHtml, answerPlain, hostIsOneOf, listenOnLoopback, sameSecret, type LoopbackServer } from '../oauth/loopbackServer.ts';

const PROXIED_AUTHORITY = /^(localhost|127\.0\.0\.1|0\.0\.0\.0):(\d+)$/;

/** True when a web workbench would send this URL through its port proxy. */
export function isProxiedByWebWorkbench(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && PROXIED_AUTHORITY.test(u.host);
  } catch {
    return false;
  }
}

function redirectPage(target: string): string {
  const html = target.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const js = JSON.stringify(target).replace(/</g, '\\u003c');
  return `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=${html}"><title>Token Relay</title>
<body style="font-family:system-ui;margin:3em"><p>Opening your identity provider… <a href="${html}">Continue</a></p>
<script>location.replace(${js});</script>`;
}

const SPENT_PAGE = `<!doctype html><meta charset="utf-8"><title>Token Relay</title>
<body style="font-family:system-ui;margin:3em"><h2>This sign-in link was already used</h2><p>Return to VS Code and start sign-in again.</p>`;

/** One use of the page at `/<secret>`, for the given Hosts; the page is gone after it. */
function launcherPage(target: string, secret: string, hosts: () => readonly string[]) {
  let spent = false;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!hostIsOneOf(req, hosts())) return answerPlain(res, 400, 'Bad request.');
    // A path proxy may forward `/proxy/N/x` as `//x`: leading slashes carry no meaning here.
    if (!sameSecret(req.url?.replace(/^\/+/, ''), secret)) return answerPlain(res, 404, 'Not found.');
    if (req.method !== 'GET') return answerPlain(res, 405, 'Method not allowed.');
    if (spent) return answerHtml(res, 410, SPENT_PAGE);
    spent = true;
    answerHtml(res, 200, redirectPage(target));
  };
}

export class BrowserOpener implements vscode.Disposable {
  private readonly launchers = new Set<LoopbackServer>();

  constructor(private readonly log: Logger, private readonly web = vscode.env.uiKind === vscode.UIKind.Web) {}

  /** False when the browser could not be opened (or the user declined). */
  async open(url: string): Promise<boolean> {
    let target = url;
    if (this.web && isProxiedByWebWorkbench(url)) {
      target = await this.launch(url);
      this.log.debug(`Opening ${new URL(url).origin} through a 127.0.0.1 launcher (the web workbench would drop the URL's path)`);
    }
    try {
      return await vscode.env.openExternal(vscode.Uri.parse(target));
    } catch (err) {
      this.log.warn(`Opening the browser failed: ${describeError(err)}`);
      return false;
    }
  }

  /** Closes the launchers; call when the sign-in ends. */
  dispose(): void {
    for (const launcher of this.launchers) void launcher.close();
    this.launchers.clear();
  }

  /** The launcher page's URL as the browser reaches it: through the web workbench's port proxy. */
  private async launch(target: string): Promise<string> {
    const secret = randomBytes(32).toString('base64url');
    let hosts: readonly string[] = [];
    const launcher = await listenOnLoopback(launcherPage(target, secret, () => hosts));
    this.launchers.add(launcher);
    const root = `http://127.0.0.1:${launcher.port}/`;
    let external = new URL(root);
    try {
      external = new URL((await vscode.env.asExternalUri(vscode.Uri.parse(root))).toString());
    } catch (err) {
      this.log.debug(`No external address for the launcher (${describeError(err)}); opening it directly`);
    }
    // Through the proxy the browser's Host is the workbench's own, and passed on as it is.
    hosts = [...launcher.authorities, external.host.toLowerCase()];
    external.pathname = `${external.pathname.replace(/\/*$/, '')}/${secret}`;
    return external.href;
  }
}
