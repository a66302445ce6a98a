// A window process whose socket directories come from its environment alone, as the extension's
// do (defaultSocketDir() and the default fallbacks, for the terminal socket and the peer socket),
// serving the real AccountService over the registry in `slotsRoot`. argv[2]: {"slotsRoot",
// "slotDir" (the signed-in account's slot there), "storePath", "issuer", "clientId"}. Prints
// {"terminal", "peer", "state", "errorCode", "log"} once both sockets listen; stops on SIGTERM.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AccountRegistry } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';
import { defaultSocketDir } from '../../src/ipc/socketPaths.ts';
import { serveTerminals } from '../../src/ipc/tokenServer.ts';
import { captureLog } from '../cli/support.ts';
import { SCOPES } from '../harness/fixture.ts';
import { openStore } from '../harness/stores.ts';

async function main(): Promise<void> {
  const { slotsRoot, slotDir, storePath, issuer, clientId } = JSON.parse(process.argv[2]) as Record<string, string>;
  const log = captureLog();
  const store = openStore('shared-lag', storePath, 0);
  const service = new AccountService(new AccountRegistry({
    slotsRoot, store, log, label: 'env-window', brokerOptions: { proactive: false },
    siblings: (l) => new UnixSiblingChannel(defaultSocketDir(), l),
  }), log);
  const settings: Record<string, unknown> = { issuer, clientId, scopes: SCOPES };
  await service.configure(parseSettings((key) => settings[key]));
  const server = await serveTerminals({ socketDir: defaultSocketDir(), service, log });
  const peersDir = join(slotDir, 'peers');
  const own = readdirSync(peersDir).map((n) => JSON.parse(readFileSync(join(peersDir, n), 'utf8'))).find((r) => r.pid === process.pid);
  const { state, errorCode } = service.status();
  process.stdout.write(`${JSON.stringify({ terminal: server.socketPath, peer: own?.socket, state, errorCode, log: log.lines })}\n`);
  const keepAlive = setInterval(() => undefined, 60_000);
  process.once('SIGTERM', () => {
    clearInterval(keepAlive);
    void server.close().then(() => service.dispose()).then(() => process.exit(0));
  });
}

main().catch((err) => {
  process.stderr.write(`env window failed: ${String(err)}\n`);
  process.exit(1);
});
