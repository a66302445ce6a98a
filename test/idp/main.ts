// Child-process entry: `node --import tsx test/idp/main.ts [--port N] [--ttl SECONDS] [--host 127.0.0.1|::1]
// [--reuse-grace SECONDS] [--quiet]`.
// Prints one JSON line {issuer, clientId, apiUrl, controlUrl} on stdout when ready; logs go to stderr.
import { parseArgs } from 'node:util';
import { startControlServer } from './control-server.ts';
import { startIdp } from './server.ts';

// oidc-provider prints notices via console.info; stdout is reserved for the handshake line.
console.info = console.log = (...args: unknown[]) => console.error(...args);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' }, ttl: { type: 'string' }, host: { type: 'string' }, 'reuse-grace': { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const host = values.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1') throw new Error(`--host must be 127.0.0.1 or ::1, got ${host}`);
  const idp = await startIdp({
    port: values.port === undefined ? undefined : Number(values.port),
    accessTokenTtl: values.ttl === undefined ? undefined : Number(values.ttl),
    host,
    reuseGraceSeconds: values['reuse-grace'] === undefined ? undefined : Number(values['reuse-grace']),
    logger: values.quiet ? undefined : (line) => process.stderr.write(`[idp] ${line}\n`),
  });
  const control = await startControlServer(idp);
  const { issuer, clientId, apiUrl } = idp;
  process.stdout.write(`${JSON.stringify({ issuer, clientId, apiUrl, controlUrl: control.url })}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[idp] ${signal}: shutting down\n`);
    Promise.all([control.close(), idp.close()]).then(() => { process.exitCode = 0; }, (err: Error) => {
      process.stderr.write(`[idp] shutdown failed: ${err.message}\n`);
      process.exitCode = 1;
    });
    setTimeout(() => process.exit(process.exitCode ?? 1), 3000).unref(); // if a handle lingers
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`[idp] failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
