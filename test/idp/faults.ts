// The IdP's public HTTP server with switchable faults on the token endpoint. Faulted
// requests never reach oidc-provider, so they cannot be counted as grants.
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { answerWithEcho, isEchoFault, type CurrentTokens, type EchoFault } from './echo.ts';

/**
 * `bare-400`: HTTP 400, no content type, empty body, as glewlwyd refuses a spent refresh token (not RFC 6749 §5.2).
 * `revocation-401`: the revocation endpoint (RFC 7009) answers 401 with an empty body, as glewlwyd does to a public client; the token endpoint is untouched.
 */
export type FaultMode = 'none' | 'error500' | 'hang' | 'refuse' | 'slow' | 'bare-400' | 'revocation-401' | EchoFault;

const HOST = '127.0.0.1';

function isTokenRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && new URL(req.url ?? '/', 'http://x').pathname === '/token';
}

/** oidc-provider's /token/revocation, test/oauth2server's /oauth2/revoke. */
function isRevocationRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && /\/(revocation|revoke)$/.test(new URL(req.url ?? '/', 'http://x').pathname);
}

export class FaultableServer {
  /** Set once the provider exists (its issuer needs our port first). */
  handler: RequestListener = (_req, res) => { res.writeHead(503).end(); };
  /** The tokens the echo faults quote (set by server.ts). */
  current: () => CurrentTokens = () => ({});
  /** Called for each token request a fault answers (set by server.ts: the `faultAnswers` counter). */
  onFaultAnswer: () => void = () => {};
  private mode: FaultMode = 'none';
  private readonly hung = new Set<ServerResponse>();
  private readonly delayed: (() => void)[] = [];
  private readonly server = createServer((req, res) => this.route(req, res));
  private listening = false;
  port = 0;

  constructor(private readonly log: (line: string) => void, private readonly host = HOST) {}

  async listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => { this.server.off('error', reject); resolve(); });
    });
    this.listening = true;
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    return this.port;
  }

  get fault(): FaultMode { return this.mode; }

  async setFault(mode: FaultMode): Promise<void> {
    const previous = this.mode;
    this.mode = mode;
    if (previous === 'hang' && mode !== 'hang') this.dropHung();
    if (previous === 'slow' && mode !== 'slow') this.delayed.splice(0).forEach((answer) => answer());
    if (mode === 'refuse' && this.listening) await this.stop();
    if (mode !== 'refuse' && !this.listening) await this.listen(this.port); // same port again
    this.log(`fault ${mode}`);
  }

  async close(): Promise<void> {
    this.mode = 'none';
    this.dropHung();
    this.delayed.length = 0;
    if (this.listening) await this.stop();
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const faulted = this.mode === 'revocation-401' ? isRevocationRequest(req) : isTokenRequest(req) && this.mode !== 'none' && this.mode !== 'slow';
    if (faulted) this.onFaultAnswer();
    if (this.mode === 'revocation-401' && faulted) {
      this.log('fault revocation-401');
      req.resume();
      res.writeHead(401).end();
    } else if (this.mode === 'bare-400' && isTokenRequest(req)) {
      this.log('fault bare-400 POST /token');
      req.resume();
      res.writeHead(400).end();
    } else if (this.mode === 'error500' && isTokenRequest(req)) {
      this.log('fault error500 POST /token');
      res.writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end('{"error":"server_error"}');
    } else if (isEchoFault(this.mode) && isTokenRequest(req)) {
      this.log(`fault ${this.mode} POST /token`);
      answerWithEcho(this.mode, req, res, this.current());
    } else if (this.mode === 'hang' && isTokenRequest(req)) {
      this.log('fault hang POST /token');
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
    } else if (this.mode === 'slow' && isTokenRequest(req)) {
      // Processed now (the token rotates at the server), answered only when the fault is lifted.
      this.log('fault slow POST /token');
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      res.end = ((...args: unknown[]) => { this.delayed.push(() => end(...args)); return res; }) as typeof res.end;
      this.handler(req, res);
    } else {
      this.handler(req, res);
    }
  }

  /** Hung requests are cut (socket destroyed), never answered late: a late grant would be a surprise. */
  private dropHung(): void {
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
  }

  private async stop(): Promise<void> {
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections(); // keep-alive sockets would otherwise still reach us
    await closed;
  }
}
