// Which git requests the window answers with the access token: https only (plain http only to a
// loopback host, where nothing crosses a network), and, when tokenrelay.git.hosts is set, only
// for those hosts. A global `credential.helper` would otherwise hand the token to any server git
// talks to, over any protocol.
import { isLoopbackHost } from '../oauth/loopbackHost.ts';

/** `host`, `host:port` or `*.domain[:port]`; a host is a DNS name, an IPv4 address or a bracketed IPv6 address. */
const PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$/;

export interface GitRequest {
  protocol: string;
  /** As git sends it: `host` or `host:port`. */
  host: string;
}

/** Whether `pattern` is a valid tokenrelay.git.hosts entry. */
export function isGitHostPattern(pattern: string): boolean {
  const m = PATTERN.exec(pattern.toLowerCase());
  return !!m && (!m[6] || Number(m[6].slice(1)) <= 65535) && !(m[1] && m[2].startsWith('['));
}

/** Why this request gets no token, or undefined when it is answered. */
export function gitRefusal(request: GitRequest, hosts: readonly string[] | undefined): string | undefined {
  const protocol = request.protocol.toLowerCase();
  const host = request.host.toLowerCase();
  if (host.startsWith('*') || !isGitHostPattern(host)) return `git asked for a token for "${request.host}", which is not a host name`;
  const name = hostName(host);
  if (protocol === 'http' && !isLoopbackHost(name)) {
    return `git asked for a token for plain http://${request.host}; it is sent only over https (plain http only to 127.0.0.1, ::1 or localhost)`;
  }
  if (protocol !== 'https' && protocol !== 'http') return `git asked for a token for the protocol "${request.protocol}"; only https is answered`;
  if (hosts && !hosts.some((p) => hostMatches(p, host))) {
    return `${request.host} is not in tokenrelay.git.hosts (${hosts.join(', ') || 'empty'}); add it there if it accepts your identity provider's tokens`;
  }
  return undefined;
}

/** The host without its port (brackets kept for IPv6). */
function hostName(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
}

/**
 * Whether `host` (`host[:port]`, lower case) is one `pattern` names. A pattern without a port matches
 * only a host without one (the protocol's default port). Shared with tokenrelay.mcp.servers and
 * tokenrelay.kubernetes.clusters (mcpAccess.ts, clusterAccess.ts), so every allowlist reads alike.
 */
export function hostMatches(rawPattern: string, host: string): boolean {
  const pattern = rawPattern.toLowerCase();
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1); // ".example.com[:port]"
  return host.endsWith(suffix) && host.length > suffix.length && !host.slice(0, -suffix.length).includes(':');
}
