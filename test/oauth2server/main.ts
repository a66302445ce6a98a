// Child-process entry: `node --import tsx test/oauth2server/main.ts [--ttl SECONDS] [--quiet]`.
// Prints one JSON line {issuer, clientId, apiUrl, controlUrl, endpoints, scopes} on stdout when
// ready; logs go to stderr. Drive it with idpControl(controlUrl) from test/idp/control.ts.
import { parseArgs } from 'node:util';
import { startControlServer } from '../idp/control-server.ts';
import { startPlainServer } from './server.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { ttl: { type: 'string' }, quiet: { type: 'boolean', default: false } } });
  const server = await startPlainServer({
    accessTokenTtl: values.ttl === undefined ? undefined : Number(values.ttl),
    logger: values.quiet ? undefined : (line) => process.stderr.write(`[oauth2] ${line}\n`),
  });
  const control = await startControlServer(server);
  const { issuer, clientId, apiUrl, endpoints, scopes } = server;
  process.stdout.write(`${JSON.stringify({ issuer, clientId, apiUrl, controlUrl: control.url, endpoints, scopes })}\n`);
  const stop = () => {
    Promise.all([control.close(), server.close()]).finally(() => process.exit(0));
    setTimeout(() => process.exit(1), 3000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`[oauth2] failed to start: ${err.message}\n`);
  process.exit(1);
});
