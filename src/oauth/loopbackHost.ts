// This machine's loopback names, as URL.hostname spells them: the only hosts a token may reach over
// plain http (a local identity provider, API, git server or MCP server). Import-free: the CLI uses it.
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.has(hostname);
}
