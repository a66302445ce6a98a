// The fetch the MCP client transport uses: the window's current access token on every request to
// the MCP server's origin (never to another one), and on a 401 one report to the window and one
// retry of that request with the replacement.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError } from '../common.ts';
import type { CurrentToken } from './currentToken.ts';

export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

export function bearerFetch(server: URL, tokens: CurrentToken): FetchLike {
  return async (input, init) => {
    const url = new URL(input);
    if (url.origin !== server.origin) return send(url, init);
    const token = await tokens.get();
    const first = await send(url, init, token);
    if (first.status !== 401) return first;
    // The server says the token is no good, whatever our clock thinks.
    let replacement: string | undefined;
    try {
      replacement = await tokens.replacing(token);
    } catch (err) {
      await first.body?.cancel(); // free the connection: the error is the answer
      throw err;
    }
    if (replacement === undefined) return first;
    await first.body?.cancel();
    const second = await send(url, init, replacement);
    if (second.status === 401) tokens.refusedAfterRefresh(replacement);
    return second;
  };
}

async function send(url: URL, init: RequestInit | undefined, token?: string): Promise<Response> {
  const headers = new Headers(init?.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  try {
    return await fetch(url, { ...init, headers });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err; // the transport is closing
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(EXIT.error, `Could not reach the MCP server at ${url.origin} (${cause?.code ?? cause?.message ?? (err as Error).message}). Check the URL and that the server is running.`);
  }
}
