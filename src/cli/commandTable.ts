// The CLI's commands, each with the module that implements it (loaded only when it runs), for
// main's dispatch and help, "did you mean" and shell completion.
import type { Command } from './common.ts';

type Loader = () => Promise<Command>;

// Each command loads only its own module (exec's child_process, fetch's HTTP client stay unloaded).
export const commands: Record<string, { summary: string; load: Loader }> = {
  token: { summary: 'print the current access token', load: async () => (await import('./commands/token.ts')).tokenCommand },
  status: { summary: 'show the session state (never a token)', load: async () => (await import('./commands/status.ts')).statusCommand },
  fetch: { summary: 'call an API with the token; refresh and retry once on 401', load: async () => (await import('./commands/fetch.ts')).fetchCommand },
  exec: { summary: 'run a command with the token in its environment', load: async () => (await import('./commands/exec.ts')).execCommand },
  'git-credential': { summary: 'git credential helper (get|store|erase)', load: async () => (await import('./commands/gitCredential.ts')).gitCredentialCommand },
  'kubectl-credential': { summary: 'kubectl exec credential plugin (ExecCredential JSON)', load: async () => (await import('./commands/kubectlCredential.ts')).kubectlCredentialCommand },
  'sign-in': { summary: 'sign in (in a window, or in this terminal)', load: async () => (await import('./commands/signIn.ts')).signInCommand },
  'sign-out': { summary: 'revoke and sign out everywhere', load: async () => (await import('./commands/signOut.ts')).signOutCommand },
  config: { summary: 'set-client-secret: keep a client secret in the key store', load: async () => (await import('./commands/config.ts')).configCommand },
  agent: { summary: 'run a headless host: serves terminals with no window, refreshes ahead of expiry', load: async () => (await import('./commands/agent.ts')).agentCommand },
  setup: { summary: 'configure git, kubectl, docker or PATH to use tokenrelay', load: async () => (await import('./commands/setup.ts')).setupCommand },
  completion: { summary: 'print a shell completion script (bash, zsh, fish)', load: async () => (await import('./commands/completion.ts')).completionCommand },
  'mcp-proxy': { summary: 'stdio MCP server forwarding to a remote MCP server with the token', load: async () => (await import('./commands/mcpProxy.ts')).mcpProxyCommand },
};

export const commandNames = (): string[] => Object.keys(commands);

export function findCommand(name: string): { summary: string; load: Loader } | undefined {
  return Object.hasOwn(commands, name) ? commands[name] : undefined;
}
