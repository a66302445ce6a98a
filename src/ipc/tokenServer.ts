// The window's terminal socket: serves the `tokenrelay` CLI from the window's TokenService (its
// AccountService, with the same checks as every other consumer), so a terminal never refreshes on
// its own. Transport, limits and error bodies come from jsonServer; routes and shapes from
// tokenProtocol. Security is layered as ssh-agent does it: a per-user 0700 directory, a 0600
// socket with an unguessable name, and the path only in the terminal environment.
import { describeError } from '../core/errors.ts';
import { redactingLogger } from '../core/redact.ts';
import { listenJson } from './jsonServer.ts';
import { chooseSocketDir, newSocketPath, removeStaleSockets } from './socketDir.ts';
import { TERMINAL_SOCKET_KIND } from './tokenProtocol.ts';
import { terminalRoutes, type RouteHandler, type TerminalRouteOptions } from './terminalRoutes.ts';

export interface TerminalServerOptions extends Omit<TerminalRouteOptions, 'socketNotice'> {
  /** The preferred socket directory (defaultSocketDir()). */
  socketDir: string;
  /** Used in order when socketDir is too long or not private (default: fallbackSocketDirs()). */
  fallbackSocketDirs?: string[];
  /** Observes server-side handling time per request (benchmarks). */
  onHandled?: (route: string, ms: number) => void;
  /** How long a client may take to send its request (default 5 s). */
  requestTimeoutMs?: number;
  /** How long a connection may stay silent with no request in progress (default 10 s). */
  idleTimeoutMs?: number;
  /** Runs around every request's handling (the agent counts requests in flight to know when it is idle). */
  around?: <T>(work: () => Promise<T>) => Promise<T>;
}

export interface TerminalServer {
  readonly socketPath: string;
  /** Why the sockets are not in the preferred directory (too long a path, a directory not ours); none when they are. */
  readonly socketNotice?: string;
  close(): Promise<void>;
}

export async function serveTerminals(options: TerminalServerOptions): Promise<TerminalServer> {
  const log = redactingLogger(options.log);
  const { service } = options;
  const { dir, notice: socketNotice } = chooseSocketDir(options.socketDir, options.fallbackSocketDirs);
  if (socketNotice) log.warn(socketNotice);
  const removed = await removeStaleSockets(dir).catch((err) => {
    log.warn(`Could not clean up stale sockets in ${dir}: ${describeError(err)}`);
    return 0;
  });
  if (removed) log.info(`Removed ${removed} stale socket(s) of closed windows from ${dir}`);

  const server = await listenJson(newSocketPath(dir, TERMINAL_SOCKET_KIND), {
    log,
    requestTimeoutMs: options.requestTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    onHandled: options.onHandled,
    routes: aroundEach(terminalRoutes({ ...options, log, socketNotice }), options.around),
  });
  log.info(`Terminal socket listening at ${server.socketPath}`);
  return { socketPath: server.socketPath, socketNotice, close: () => server.close() };
}

function aroundEach(routes: Record<string, RouteHandler>, around: TerminalServerOptions['around']): Record<string, RouteHandler> {
  if (!around) return routes;
  return Object.fromEntries(Object.entries(routes).map(([name, handler]) => [name, (body) => around(() => handler(body))]));
}
