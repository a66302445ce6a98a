// The agent's composition root: a headless host. The same application layer as the one-shot CLI
// (ProfileHost: a profile of the configuration file, the per-user store, the OS keyring or the
// opted-in key file, one AccountService) behind the same terminal socket and routes a window
// serves, so every command and helper works through it as through a window. Unlike the one-shot
// host it lives on: its brokers refresh ahead of expiry (the proactive timer the windows use), so
// jobs never wait on a refresh; it watches the slots for sign-ins made elsewhere, registers as a
// peer like a window, and exits when idle unless told to stay.
import type { Logger } from '../core/types.ts';
import { TokenRelayError } from '../core/errors.ts';
import { removeFile } from '../core/removeFile.ts';
import { ProfileHost } from '../app/profileHost.ts';
import { defaultSocketDir } from '../ipc/socketPaths.ts';
import { serveTerminals, type TerminalServer } from '../ipc/tokenServer.ts';
import { claimAgent, type AgentRecord } from './agentRecord.ts';
import { IdleTimer } from './idleTimer.ts';

export interface AgentOptions {
  env: NodeJS.ProcessEnv;
  profile?: string;
  /** Exit after this long without a terminal request; undefined: stay until stopped. */
  idleTimeoutMs?: number;
  log: Logger;
}

export interface RunningAgent {
  readonly record: AgentRecord;
  /** Resolves, with the reason, once the agent has stopped: idle, or stop() (a signal). */
  readonly stopped: Promise<string>;
  /** Stops serving, lets an outstanding refresh answer and saves it, then removes the socket. */
  stop(why: string): Promise<string>;
}

export type AgentStart = { agent: RunningAgent } | { running: AgentRecord };

export async function startAgent(o: AgentOptions): Promise<AgentStart> {
  const { log } = o;
  // A late answer to a refresh this agent sent is awaited and saved before it exits, as in the one-shot host.
  // Every profile of the file (o.profile first): one agent per user serves them all.
  const host = ProfileHost.open({ env: o.env, profile: o.profile, allProfiles: true, log, label: 'agent', brokerOptions: { awaitLateAnswers: true } });
  const { service } = host;
  service.setSignInHandler(async () => {
    throw new TokenRelayError('cancelled', `The Token Relay agent (pid ${process.pid}) has no screen to sign in on.`,
      'Run "tokenrelay sign-in --device" (or --browser) in a terminal; the agent picks the new session up.');
  });
  let server: TerminalServer | undefined;
  let claimed: { record: AgentRecord; release(): void } | undefined;
  let stopping: Promise<string> | undefined;
  let stopped!: (why: string) => void;
  const done = new Promise<string>((resolve) => { stopped = resolve; });
  const stop = (why: string) => stopping ??= (async () => {
    log.info(`Stopping (${why})`);
    // New terminals find no socket (they answer from the store themselves); requests in flight finish.
    claimed?.release();
    if (claimed) await removeFile(claimed.record.socket).catch(() => undefined);
    await idle.stop();
    await service.dispose(); // waits for a refresh in flight (a proactive one too) and makes it durable
    await server?.close();
    log.info('Stopped');
    stopped(why);
    return why;
  })();
  const idle = new IdleTimer(o.idleTimeoutMs, () => void stop(`idle for ${Math.round(o.idleTimeoutMs! / 1000)} s`));
  const claim = await claimAgent(host.layout.root, async () => {
    server = await serveTerminals({
      socketDir: defaultSocketDir(o.env), service, log, host: 'agent', ...host.settings,
      // An edited configuration file is applied before the request it might concern.
      around: (work) => idle.track(async () => { await host.reloadIfChanged(); return work(); }),
    });
    return server.socketPath;
  }).catch(async (err: unknown) => {
    await stop('it could not start');
    throw err;
  });
  if ('running' in claim) {
    await stop('another agent runs');
    return { running: claim.running };
  }
  claimed = { record: claim.claimed, release: claim.release };
  try {
    await host.start();
  } catch (err) {
    await stop('it could not load its accounts');
    throw err;
  }
  log.info(`Agent pid ${process.pid} serving the profile(s) ${service.profiles().map((p) => `"${p}"`).join(', ')} of ${host.configPath} on ${claim.claimed.socket}`
    + (o.idleTimeoutMs === undefined ? '; it stays until stopped' : `; it exits after ${Math.round(o.idleTimeoutMs / 1000)} s without a request`));
  return { agent: { record: claim.claimed, stopped: done, stop } };
}
