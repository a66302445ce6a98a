// Reaching the terminals: serves the window's TokenService on a private socket and tells the
// integrated terminals where it is (TOKENRELAY_SOCK) and how to run the CLI (PATH + the Node
// runtime VS Code ships). The token itself is never put in any environment variable or argv.
//
// Reload story (see docs/design.md "Socket, reloads and the launcher"): the socket path is new at every window start. The
// collection stays persistent (VS Code's default), so terminals VS Code creates at startup, before
// this extension activates, still get `tokenrelay` on PATH; their TOKENRELAY_SOCK may then name the
// previous window start's socket, and terminals whose shells survive a reload keep the old value
// anyway (a running process's environment cannot change). The CLI therefore treats a dead
// TOKENRELAY_SOCK as "my window went away" and uses another live terminal socket of the same user
// from the same 0700 directory. New terminals get the new path as soon as this runs.
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Logger } from '../core/types.ts';
import type { TokenService } from '../app/tokenService.ts';
import { describeError } from '../core/errors.ts';
import { destinationSettings } from '../app/destinations.ts';
import { defaultSocketDir } from '../ipc/socketDir.ts';
import { serveTerminals } from '../ipc/tokenServer.ts';
import { notify } from './notify.ts';
import { userProfileSources } from './settings.ts';
import { ENV_NODE, ENV_SOCKET } from '../ipc/tokenProtocol.ts';

export interface TerminalBridgeOptions {
  /** Where the socket goes when the preferred directory is too long or not ours (default: serveTerminals' own, fallbackSocketDirs()). */
  fallbackSocketDirs?: string[];
}

export async function startTerminalBridge(context: vscode.ExtensionContext, service: TokenService, log: Logger, options: TerminalBridgeOptions = {}): Promise<vscode.Disposable> {
  const binDir = join(context.extensionPath, 'bin');
  for (const launcher of ['tokenrelay', 'docker-credential-tokenrelay']) await ensureExecutable(join(binDir, launcher), log);
  // The preferred directory; serveTerminals moves to a fallback when it is too long or not ours (and logs why).
  const server = await serveTerminals({
    socketDir: defaultSocketDir(),
    fallbackSocketDirs: options.fallbackSocketDirs,
    service,
    log,
    host: 'window',
    // User settings only (settings.ts): a workspace never names where the token goes. Each profile's lists.
    ...destinationSettings(userProfileSources),
  });
  // A hijacked or too long socket directory is worked around, but the user should know why.
  if (server.socketNotice) void notify('warning', `Token Relay: ${server.socketNotice}`);
  const env = context.environmentVariableCollection;
  env.persistent = true;
  // VS Code shows the extension's name in front of this ("Token Relay: …"), so it does not repeat it.
  env.description = 'Puts the `tokenrelay` command on PATH and points it at this window\'s sign-in (TOKENRELAY_SOCK). No token is stored in the environment.';
  env.replace(ENV_SOCKET, server.socketPath);
  env.replace(ENV_NODE, process.execPath);
  env.prepend('PATH', binDir + delimiter);
  let closed = false;
  return {
    dispose: () => {
      if (closed) return;
      closed = true;
      // The collection is kept: restored terminals still find the CLI, which falls back to a live window.
      void server.close().catch((err) => log.warn(`Closing the terminal socket failed: ${describeError(err)}`));
    },
  };
}

/** vsce keeps the exec bit, but an unpacked copy may not have it: PATH lookup needs it. */
async function ensureExecutable(path: string, log: Logger): Promise<void> {
  if (process.platform === 'win32') return;
  try {
    const { mode } = await fs.stat(path);
    if ((mode & 0o111) !== 0o111) await fs.chmod(path, mode | 0o555);
  } catch (err) {
    log.warn(`The tokenrelay launcher ${path} is not executable (${describeError(err)}); run it as "sh ${path}".`);
  }
}
