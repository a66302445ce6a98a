// A window process whose socket directories come from its environment alone, as the extension's
// do (defaultSocketDir() and the default fallbacks, for the terminal socket and the peer socket).
// argv[2]: {"slotDir", "storePath", "issuer", "clientId"}. Prints {"terminal", "peer", "state",
// "errorCode", "log"} once both sockets listen; stops on SIGTERM.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '../../src/core/broker.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';
import { defaultSocketDir } from '../../src/ipc/socketPaths.ts';
import { serveTerminals } from '../../src/ipc/tokenServer.ts';
import { BrokerService, captureLog } from '../cli/support.ts';
import { SCOPES, SECRET_KEY } from '../harness/fixture.ts';
import { openStore } from '../harness/stores.ts';

async function main(): Promise<void> {
  const { slotDir, storePath, issuer, clientId } = JSON.parse(process.argv[2]) as Record<string, string>;
  const log = captureLog();
  const store = openStore('shared-lag', storePath, 0);
  const client = new OAuthClient({ issuer, clientId, scopes: SCOPES });
  const broker = await Broker.create({
    slotDir, secretKey: SECRET_KEY, store, client, log, label: 'env-window', proactive: false,
    siblings: new UnixSiblingChannel(defaultSocketDir(), log),
  });
  const server = await serveTerminals({ socketDir: defaultSocketDir(), service: new BrokerService(broker, client, issuer), log });
  const peersDir = join(slotDir, 'peers');
  const own = readdirSync(peersDir).map((n) => JSON.parse(readFileSync(join(peersDir, n), 'utf8'))).find((r) => r.pid === process.pid);
  const { state, errorCode } = broker.status();
  process.stdout.write(`${JSON.stringify({ terminal: server.socketPath, peer: own?.socket, state, errorCode, log: log.lines })}\n`);
  const keepAlive = setInterval(() => undefined, 60_000);
  process.once('SIGTERM', () => {
    clearInterval(keepAlive);
    void server.close().then(() => broker.dispose()).then(() => process.exit(0));
  });
}

main().catch((err) => {
  process.stderr.write(`env window failed: ${String(err)}\n`);
  process.exit(1);
});
