// tokenrelay.redirectUri: a fixed loopback redirect for servers that match redirect URIs exactly,
// port included (glewlwyd, some enterprise IdPs), where RFC 8252's "any port" does not hold. Only
// http on 127.0.0.1 or localhost with an explicit port: anything else would not come back to this
// machine's listener, or would listen where other machines can reach it.
import { TokenRelayError } from '../core/errors.ts';

export interface FixedRedirect {
  /** Sent as redirect_uri exactly as written: the server compares it with its registration as a string. */
  uri: string;
  host: '127.0.0.1' | 'localhost';
  port: number;
  path: string;
}

const FIX = 'Set it to the loopback redirect URI registered for this client at the identity provider, for example '
  + 'http://127.0.0.1:8765/callback (http, 127.0.0.1 or localhost, an explicit port, a path), or remove it to use a random port.';

export function parseRedirectUri(value: string, setting = 'tokenrelay.redirectUri'): FixedRedirect {
  const bad = (why: string) => new TokenRelayError('config', `${setting} "${value}" ${why}.`, FIX);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('is not a URL');
  }
  if (url.protocol !== 'http:') throw bad('must use http (the browser comes back to this machine, not over the network)');
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') throw bad('must be on 127.0.0.1 or localhost');
  // From the text, not url.port, which drops a default port (80) the user wrote and the server registered.
  const port = Number(/^http:\/\/[^/?#]+:(\d+)(?=[/?#]|$)/i.exec(value)?.[1] ?? 0);
  if (!port) throw bad('must name its port (a port the identity provider has registered)');
  if (url.username || url.password) throw bad('must not carry a user name or password');
  if (url.search || url.hash) throw bad('must not have a query or fragment');
  return { uri: value, host: url.hostname, port, path: url.pathname };
}
