// The URL a command sends the token to: absolute http(s), and plain http only to this machine
// unless the user explicitly accepts sending the token unencrypted.
import { isLoopbackHost } from '../oauth/loopbackHost.ts';
import { usageError } from './common.ts';

export function parseTargetUrl(raw: string, command: string, allowHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`"${raw}" is not an absolute URL`, command);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw usageError(`only http(s) URLs are supported, got ${url.protocol}`, command);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !allowHttp) {
    throw usageError(`refusing to send a token over plain http to ${url.host}; use https, or pass --allow-http`, command);
  }
  return url;
}
