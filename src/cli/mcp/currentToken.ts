// The proxy's view of the window's access token. It asks the window (never the IdP) and keeps the
// answer while it stays comfortably valid, so most MCP requests cost no socket round trip. A token
// the server refused is reported once: the window refreshes it unless another process already
// did, so every proxy and terminal shares one refresh per token.
import { redactor } from '../../core/redact.ts';
import type { TokenResponse } from '../../ipc/tokenProtocol.ts';
import { call } from '../connection.ts';

/** Ask the window again once the kept token has less than a quarter of its lifetime left, at most this. */
const REUSE_MARGIN_MS = 30_000;

export interface TokenWish {
  scopes?: string[];
  account?: string;
  profile?: string;
}

export class CurrentToken {
  private grant: TokenResponse | undefined;
  private receivedAt = 0;
  private pending: Promise<TokenResponse> | undefined;
  /** Tokens the server refused even right after a refresh: reported no more (no refresh storm). */
  private readonly refusedFresh = new Set<string>();

  constructor(private readonly wish: TokenWish) {}

  async get(): Promise<string> {
    if (this.pending) return (await this.pending).accessToken;
    if (this.grant && this.fresh(this.grant)) return this.grant.accessToken;
    return (await this.ask()).accessToken;
  }

  private fresh(grant: TokenResponse): boolean {
    return grant.expiresAt - Date.now() > Math.min(REUSE_MARGIN_MS, (grant.expiresAt - this.receivedAt) / 4);
  }

  /** The server answered 401 to `token`: the token to retry with, or undefined when retrying is pointless. */
  async replacing(token: string): Promise<string | undefined> {
    if (this.refusedFresh.has(token)) return undefined;
    while (this.pending) await this.pending.catch(() => undefined);
    if (this.grant && this.grant.accessToken !== token) return this.grant.accessToken;
    return (await this.ask(token)).accessToken;
  }

  /** The retry with a replacement got 401 too: the server wants something a refresh cannot give. */
  refusedAfterRefresh(token: string): void {
    this.refusedFresh.add(token);
  }

  private ask(rejected?: string): Promise<TokenResponse> {
    this.pending ??= call('token', { ...this.wish, rejected }).then((grant) => {
      redactor.remember(grant.accessToken);
      this.grant = grant;
      this.receivedAt = Date.now();
      return grant;
    }).finally(() => { this.pending = undefined; });
    return this.pending;
  }
}
