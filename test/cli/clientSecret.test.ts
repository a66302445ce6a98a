// `tokenrelay config set-client-secret` with VS Code closed: the secret from standard input into the
// profile's key store (here the opted-in key file, so no keyring is needed), never into the
// configuration file or any output; then device sign-in and refresh authenticate the client at
// the test IdP, counted by how each token request authenticated.
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BASIC_CLIENT_ID } from '../idp/config.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { TEST_USER, readableCli, type CliResult } from './support.ts';
import { deviceSignInAsTestUser, runAsTestUser } from './testUserCli.ts';

let idp: Idp;
let home: string;
let cliJs: string;

/** The CLI's whole environment (testUserCli.ts: as TEST_USER, so no other run's window answers). */
const vars = (): Record<string, string> => ({
  PATH: process.env.PATH!, HOME: home, TOKENRELAY_HOME: join(home, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'),
  TOKENRELAY_KEY_STORE: 'file', TOKENRELAY_PROFILE: 'gh',
});
const cli = (args: string[], input?: string): Promise<CliResult> => runAsTestUser(cliJs, vars(), args, input);
const deviceSignIn = () => deviceSignInAsTestUser(cliJs, vars(), idp.issuer, 'dana');

describe('tokenrelay config set-client-secret', () => {
  before(async () => {
    idp = await startIdp({ accessTokenTtl: 60 });
    cliJs = await readableCli('/tmp/trc-secret-');
    const dir = dirname(cliJs);
    home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: { gh: { issuer: idp.issuer, clientId: BASIC_CLIENT_ID, scopes: ['openid', 'offline_access'] } } }));
    for (const path of [home, join(home, 'config.json')]) chownSync(path, TEST_USER.uid, TEST_USER.gid);
  });
  after(async () => {
    await idp?.close();
    rmSync(dirname(home), { recursive: true, force: true });
  });

  test('bad use: an unknown subcommand and an empty standard input are usage errors; an unknown profile names the fix', async () => {
    const unknown = await cli(['config', 'set-secret']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown config command "set-secret"; the one there is: set-client-secret\. Run "tokenrelay config --help"/);
    const empty = await cli(['config', 'set-client-secret'], '');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /No client secret on standard input/);
    const noProfile = await cli(['config', 'set-client-secret', '--profile', 'nope'], 'x\n');
    assert.equal(noProfile.code, 1, noProfile.stderr);
    assert.match(noProfile.stderr, /has no profile "nope".*tokenrelay sign-in --profile nope/);
    assert.doesNotMatch(noProfile.stderr, /unexpected error/);
  });

  test('stored from stdin, shown nowhere, not in the configuration file; sign-in and refresh then authenticate with it; --remove takes it away', async () => {
    const configBefore = readFileSync(join(home, 'config.json'), 'utf8');
    const stored = await cli(['config', 'set-client-secret'], `${idp.clientSecret}\n`);
    assert.equal(stored.code, 0, stored.stderr);
    assert.equal(stored.stdout, `Stored the client secret of ${BASIC_CLIENT_ID} at ${idp.issuer} (profile "gh") in a key file, not protected by the OS (${join(home, 'state', 'keys')}).\n`);
    assert.equal(readFileSync(join(home, 'config.json'), 'utf8'), configBefore, 'the configuration file is untouched');

    idp.resetCounters();
    assert.equal(await deviceSignIn(), 0);
    const first = await cli(['token']);
    assert.equal(first.code, 0, first.stderr);
    const refreshed = await cli(['token', '--rejected', '-'], first.stdout);
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.notEqual(refreshed.stdout, first.stdout);
    const counters = idp.counters();
    assert.deepEqual([counters.deviceCodeGrants, counters.refreshGrants], [1, 1]);
    assert.ok(!counters.tokenAuth.none && (counters.tokenAuth.client_secret_basic ?? 0) >= 2, JSON.stringify(counters.tokenAuth));

    const outputs = [stored, first, refreshed].map((r) => r.stdout + r.stderr).join('\n');
    assert.ok(!outputs.includes(idp.clientSecret!), 'never printed');
    const stateFiles = (readdirSync(join(home, 'state'), { recursive: true }) as string[]).filter((n) => !n.startsWith('keys'));
    for (const name of stateFiles) {
      try { assert.ok(!readFileSync(join(home, 'state', name), 'utf8').includes(idp.clientSecret!), name); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw err; }
    }

    const removed = await cli(['config', 'set-client-secret', '--remove']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^Removed the client secret of tokenrelay-test-basic/);
    // Without it this client cannot even revoke its grant: sign-out completes here and says so.
    const signOut = await cli(['sign-out']);
    assert.equal(signOut.code, 1);
    assert.match(signOut.stderr, /Signed out on this computer\. The identity provider did not revoke the grant \(HTTP 401 invalid_client.*\)\. The grant may still be active at/);
    const refused = await cli(['sign-in', '--device', '--json']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /invalid_client.*tokenrelay config set-client-secret/);
  });
});
