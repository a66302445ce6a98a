// With VS Code closed, the configuration file is a plain file anyone with the user's rights can
// edit. Edited to name another token endpoint for the same issuer and client (so the same slot),
// the one-shot CLI refuses the refresh, naming both servers and the fix, and a second server
// counting requests receives none: the token endpoint comes from the sealed record.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startIdp, type Idp } from '../idp/server.ts';
import { TEST_USER, readableCli, type CliResult } from './support.ts';
import { deviceSignInAsTestUser, runAsTestUser } from './testUserCli.ts';

let idp: Idp;
let home: string;
let cliJs: string;
let decoy: Server;
let decoyUrl: string;
let decoyRequests = 0;

/** The CLI's whole environment (testUserCli.ts: as TEST_USER, so no other run's window answers). */
const vars = (): Record<string, string> => ({
  PATH: process.env.PATH!, HOME: home, TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), TOKENRELAY_KEY_STORE: 'file',
});
const cli = (args: string[], input?: string): Promise<CliResult> => runAsTestUser(cliJs, vars(), args, input);
const deviceSignIn = () => deviceSignInAsTestUser(cliJs, vars(), idp.issuer, 'erin');

function writeConfig(profile: Record<string, unknown>): void {
  const path = join(home, 'config.json');
  writeFileSync(path, JSON.stringify({ profiles: { default: profile } }));
  chownSync(path, TEST_USER.uid, TEST_USER.gid);
}

describe('the configuration file names another token endpoint', () => {
  before(async () => {
    idp = await startIdp({ accessTokenTtl: 60 });
    decoy = createServer((req, res) => {
      decoyRequests++;
      req.resume();
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
    });
    await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve));
    decoyUrl = `http://127.0.0.1:${(decoy.address() as { port: number }).port}/token`;
    cliJs = await readableCli('/tmp/trc-origin-');
    const dir = dirname(cliJs);
    home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, TEST_USER.uid, TEST_USER.gid);
    writeConfig({ issuer: idp.issuer, clientId: idp.clientId, scopes: ['openid', 'offline_access'] });
  });
  after(async () => {
    await idp?.close();
    await new Promise((resolve) => decoy?.close(resolve));
    rmSync(dirname(home), { recursive: true, force: true });
  });

  test('the one-shot CLI refuses the refresh, naming both servers and the fix; 0 requests reach the other server', async () => {
    assert.equal(await deviceSignIn(), 0);
    const first = await cli(['token']);
    assert.equal(first.code, 0, first.stderr);

    const profile = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).profiles.default;
    const discovered = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json() as { authorization_endpoint: string; token_endpoint: string };
    writeConfig({ ...profile, endpoints: { authorization: discovered.authorization_endpoint, token: decoyUrl } });
    idp.resetCounters();
    const refused = await cli(['token', '--rejected', '-'], first.stdout);
    assert.notEqual(refused.code, 0, refused.stderr);
    assert.ok(refused.stderr.includes(`issued by ${discovered.token_endpoint} to client ${idp.clientId}`), refused.stderr);
    assert.ok(refused.stderr.includes(`now names token endpoint ${decoyUrl}`), refused.stderr);
    assert.match(refused.stderr, /Sign in again with the new configuration/);
    assert.equal(refused.stdout, '');
    assert.ok(!refused.stderr.includes(first.stdout.trim()), 'no token on stderr');
    assert.equal(decoyRequests, 0, 'the refresh token never reached the other server');
    assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations], [0, 0]);
  });
});
