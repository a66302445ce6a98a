// The API other extensions get from `vscode.extensions.getExtension('tokenrelay.tokenrelay').activate()`,
// answered by the AccountService like every other consumer.
import type * as vscode from 'vscode';
import type { TokenService } from '../app/tokenService.ts';

export interface GetAccessTokenOptions {
  /** Scopes the caller needs; each must be in tokenrelay.scopes. */
  scopes?: string[];
  /**
   * The token your server just answered HTTP 401 to. Token Relay refreshes it once, however many
   * callers (in any window or terminal) report it, and returns the new one; if it was already
   * replaced, the current token comes back without another refresh. A token that itself replaced a
   * rejected one moments ago (10 s) is not refreshed again: the call rejects with "The server
   * rejects freshly issued tokens: check tokenrelay.resource / scopes / audience".
   */
  rejectedToken?: string;
  /** The profile (tokenrelay.profiles) whose account gives the token; default: the top-level settings' ("default"). */
  profile?: string;
  /**
   * The API the token is for: its RFC 8707 resource indicator (an absolute URI, e.g.
   * https://api.example.com; for Entra ID the API's application ID URI). Each API's token is
   * cached apart and all come from the one sign-in. Absent: tokenrelay.resource.
   */
  resource?: string;
}

export interface TokenRelayApi {
  /** A current access token for the signed-in account. Rejects with a readable message when not signed in. */
  getAccessToken(options?: GetAccessTokenOptions): Promise<string>;
  /** Fires when the token changed (refresh in any window), or an account signed in or out. */
  readonly onDidChangeToken: vscode.Event<void>;
}

export function createApi(service: TokenService, onDidChangeToken: vscode.Event<void>): TokenRelayApi {
  return {
    async getAccessToken(options: GetAccessTokenOptions = {}): Promise<string> {
      const grant = await service.getToken({ scopes: options.scopes, rejectedAccessToken: options.rejectedToken, profile: options.profile, resource: options.resource });
      return grant.accessToken;
    },
    onDidChangeToken,
  };
}
