// Hands the current credentials to sibling processes of the same user whose secret view is stale
// (code-server snapshots, desktop propagation lag). Only this user can reach the 0700 socket dir.
import { listenJson, type JsonServer } from '../ipc/jsonServer.ts';
import { postJson } from '../ipc/jsonClient.ts';
import { newSocketPath } from '../ipc/socketDir.ts';
import { TokenRelayError } from './errors.ts';
import { parseCredentials, serializeCredentials, type Credentials } from './credentials.ts';
import type { Logger } from './types.ts';

export async function servePeers(socketDir: string, current: () => Credentials | undefined, log: Logger): Promise<JsonServer> {
  return listenJson(newSocketPath(socketDir, 'peer'), {
    log,
    routes: {
      credentials: async (body) => {
        const held = current();
        if (!held || held.gen !== body.gen) {
          throw new TokenRelayError('stale-view', `Generation ${String(body.gen)} is not held here.`);
        }
        return { credentials: serializeCredentials(held) };
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
