// One process of the lock-and-reread baseline for bench/lockAndRereadStorm.ts: what other tools ship
// (a lock file around "re-read the credential file, refresh if expired, write it back") as a
// one-shot command, as `tokenrelay token` is. Bundled with esbuild, as dist/cli.js is, so the two
// pay comparable start-up costs. Usage: node lockAndReread.js <credential file> <issuer> <client id>
import { OAuthClient } from '../src/oauth/oauthClient.ts';
import { systemClock } from '../src/core/types.ts';
import { LockAndRereadClient } from '../test/harness/lockAndRereadClient.ts';

const [file, issuer, clientId] = process.argv.slice(2);
const client = new OAuthClient({ issuer, clientId, scopes: ['openid', 'offline_access'] }, systemClock);
new LockAndRereadClient(file, client, systemClock, () => {}).getToken().then(
  (t) => { process.stdout.write(`${t.accessToken}\n`); },
  (err: Error) => { process.stderr.write(`lockAndReread: ${err.message}\n`); process.exitCode = 1; },
);
