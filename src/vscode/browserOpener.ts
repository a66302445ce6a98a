// Opens identity-provider pages in the user's browser.
//
// In a web workbench (code-server, VS Code server) `openExternal` rewrites every
// http://localhost:N / 127.0.0.1:N / 0.0.0.0:N URL to the server's port proxy and DROPS its path
// and query (code-server 4.100: `proxyEndpointTemplate`), so an identity provider on this machine
// (a local or test IdP) would open without its authorization request. For such URLs this opens a
// tiny 127.0.0.1 launcher instead: whatever path the proxy forwards, it answers with a redirect
// page to the full URL, which the browser then loads directly. Remote IdPs are opened as they are.
import * as vscode from 'vscode';
import { createServer, type Server } from 'node:http';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/types.ts';

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

export class BrowserOpener implements vscode.Disposable {
  private readonly launchers = new Set<Server>();

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
    for (const server of this.launchers) {
      server.closeAllConnections();
      server.close();
    }
    this.launchers.clear();
  }

  private async launch(target: string): Promise<string> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        connection: 'close',
      }).end(redirectPage(target));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.unref();
    this.launchers.add(server);
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  }
}
