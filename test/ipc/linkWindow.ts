// A window process for the link tests: the real AccountService behind the terminal socket and a
// peer socket (UnixSiblingChannel), in one OS process, as in a real window. Nobody is signed in
// (the issuer is never contacted), so the service's registry opens no broker and no peer socket:
// a bare Broker on a slot of its own registers the peer socket. A terminal's sign-in request waits
// as one in the browser would, which keeps its link busy. Prints {"terminal", "peer"} once both
// listen; stops on SIGTERM.
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '../../src/core/broker.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';
import { serveTerminals } from '../../src/ipc/tokenServer.ts';
import { AccountRegistry } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { parseSettings } from '../../src/app/settings.ts';
import { captureLog } from '../cli/support.ts';
import { SCOPES, SECRET_KEY } from '../harness/fixture.ts';
import { openStore } from '../harness/stores.ts';

async function main(): Promise<void> {
  const [dir, idleMs] = process.argv.slice(2);
  const socketDir = join(dir, 'sockets');
  const slotDir = join(dir, 'slot');
  mkdirSync(slotDir, { recursive: true, mode: 0o700 });
  const log = captureLog();
  const fallbacks = [join(dir, 'fallback')];
  const store = openStore('shared-lag', join(dir, 'secrets'), 0);
  const client = new OAuthClient({ issuer: 'https://idp.invalid', clientId: 'links', scopes: SCOPES });
  const broker = await Broker.create({
    slotDir, secretKey: SECRET_KEY, store, client, log, label: 'links', proactive: false,
    siblings: new UnixSiblingChannel(socketDir, log, fallbacks),
  });
  const service = new AccountService(new AccountRegistry({
    slotsRoot: join(dir, 'slots'), store, log, label: 'links', brokerOptions: { proactive: false },
    siblings: (l) => new UnixSiblingChannel(socketDir, l, fallbacks),
  }), log);
  const settings: Record<string, unknown> = { issuer: 'https://idp.invalid', clientId: 'links', scopes: SCOPES };
  await service.configure(parseSettings((key) => settings[key]));
  service.setSignInHandler(() => {
    process.stdout.write('sign-in requested\n');
    return new Promise<void>(() => undefined);
  });
  const server = await serveTerminals({ socketDir, fallbackSocketDirs: fallbacks, service, log, idleTimeoutMs: Number(idleMs) });
  const peersDir = join(slotDir, 'peers');
  const [registration] = readdirSync(peersDir);
  const peer = JSON.parse(readFileSync(join(peersDir, registration), 'utf8')).socket as string;
  process.stdout.write(`${JSON.stringify({ terminal: server.socketPath, peer })}\n`);
  const keepAlive = setInterval(() => undefined, 60_000);
  process.once('SIGTERM', () => {
    clearInterval(keepAlive);
    void server.close().then(() => service.dispose()).then(() => broker.dispose()).then(() => process.exit(0));
  });
}

main().catch((err) => {
  process.stderr.write(`link window failed: ${String(err)}\n`);
  process.exit(1);
});
