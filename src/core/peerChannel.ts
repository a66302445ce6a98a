// Hands the current credentials to sibling processes of the same user whose secret view is stale
// (code-server snapshots, desktop propagation lag). Only this user can reach the 0700 socket dir.
// Pull (`credentials`) serves a sibling that asks; push (`offer`) lets a writer hand its new
// generation out at once, so siblings hold it even if the writer exits right after.
import { listenJson, type JsonServer } from '../ipc/jsonServer.ts';
import { postJson, IpcUnavailableError } from '../ipc/jsonClient.ts';
import { newSocketPath } from '../ipc/socketDir.ts';
import { TokenRelayError } from './errors.ts';
import { parseCredentials, serializeCredentials, type Credentials } from './credentials.ts';
import type { Logger } from './types.ts';

export interface PeerHandlers {
  current(): Credentials | undefined;
  offered(credentials: Credentials): void;
}

export async function servePeers(socketDir: string, handlers: PeerHandlers, log: Logger): Promise<JsonServer> {
  return listenJson(newSocketPath(socketDir, 'peer'), {
    log,
    routes: {
      credentials: async (body) => {
        const held = handlers.current();
        if (!held || held.gen !== body.gen) {
          throw new TokenRelayError('stale-view', `Generation ${String(body.gen)} is not held here.`);
        }
        return { credentials: serializeCredentials(held) };
      },
      offer: async (body) => {
        if (typeof body.credentials !== 'string') throw new TokenRelayError('protocol', 'An offer needs credentials.');
        handlers.offered(parseCredentials(body.credentials));
        return {};
      },
    },
  });
}

export async function askPeer(socket: string, gen: number, timeoutMs = 2000): Promise<Credentials | undefined> {
  try {
    const reply = await postJson<{ credentials: string }>(socket, 'credentials', { gen }, timeoutMs);
    return parseCredentials(reply.credentials);
  } catch {
    return undefined;
  }
}

/** 'gone' when nobody listens there any more (a window that died without cleaning up). */
export async function offerToPeer(socket: string, credentials: Credentials, timeoutMs = 2000): Promise<'ok' | 'gone' | 'failed'> {
  try {
    await postJson(socket, 'offer', { credentials: serializeCredentials(credentials) }, timeoutMs);
    return 'ok';
  } catch (err) {
    return err instanceof IpcUnavailableError && /ENOENT|ECONNREFUSED/.test(err.reason) ? 'gone' : 'failed';
  }
}
