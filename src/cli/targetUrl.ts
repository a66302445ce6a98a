// The URL a command sends the token to: absolute http(s), and plain http only to this machine
// unless the user explicitly accepts sending the token unencrypted.
import { usageError } from './common.ts';

/** Hosts plain http may carry a token to: this machine. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.has(hostname);
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

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
