// The CLI's hosts in one bundle (dist/host.js), loaded by dist/cli.js only when it needs one: the
// one-shot host when no window or agent answers, the agent for `tokenrelay agent`. They share the
// core, the OAuth client and the application layer, so one copy serves both; the socket path
// (every command while a window or agent runs) never loads it.
export * from './direct/directHost.ts';
export * as agent from '../agent/agentMain.ts';
