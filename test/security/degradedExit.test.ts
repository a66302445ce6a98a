// Issue 17 §3b: a normal exit while degraded must not lose the session. The one-shot CLI (no window
// or agent answers its socket search) refreshes while its slot directory is a full or read-only tmpfs: it holds
// the only copy of the new generation. Beside a live window process it hands the generation over,
// sealed, on the peer socket: the window serves it and writes it once the disk has room, the IdP
// counts one refresh, nobody ends in needs-sign-in. With no window it says on stderr what is lost
// and exits non-zero. The disk breaks while the IdP holds its answer ('slow'), after the claim.
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { startIdp, type Idp } from '../idp/server.ts';
import { World } from '../harness/fixture.ts';
import { SmallDisk } from '../harness/smallDisk.ts';
import type { WindowProcess } from '../harness/windowProcess.ts';
import { keySecretOf, secretKeyOf } from '../../src/app/slots.ts';
import { EXIT } from '../../src/ipc/tokenProtocol.ts';
import { TEST_USER, readableCli, waitFor, type CliResult } from '../cli/support.ts';
import { deviceSignInAsTestUser, runAsTestUser } from '../cli/testUserCli.ts';

let idp: Idp;
let home: string;
let runtime: string;
let disk: SmallDisk;
let cliJs: string;
const state = () => join(home, 'state');

/**
 * A plain terminal of TEST_USER: store, config and K (the opt-in key file) private, sockets in a
 * private runtime directory. Not root: no window of another suite on this machine (root's socket
 * directories) can answer in place of the one-shot host.
 */
const vars = (): Record<string, string> => ({
  PATH: process.env.PATH!, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: runtime,
  TOKENRELAY_HOME: state(), TOKENRELAY_CONFIG: join(home, 'config.json'), TOKENRELAY_KEY_STORE: 'file',
});
const cli = (args: string[], input?: string): Promise<CliResult> => runAsTestUser(cliJs, vars(), args, input);

async function deviceSignIn(): Promise<void> {
  assert.equal(await deviceSignInAsTestUser(cliJs, vars(), idp.issuer, 'frank'), 0, 'device sign-in');
}

const slotKey = () => readdirSync(join(state(), 'slots'), { withFileTypes: true }).find((d) => d.isDirectory())!.name;
const generations = () => readdirSync(join(state(), 'slots', slotKey())).filter((n) => /^g-\d+\.sealed$/.test(n)).length;

/**
 * `tokenrelay token --rejected` whose refresh is answered only after the slot directory's disk is
 * full: the IdP has granted it (and the claim is on disk) when the disk fills.
 */
async function refreshOntoBrokenDisk(fault: Fault, rejected: string): Promise<CliResult> {
  await idp.setFault('slow');
  idp.resetCounters();
  const running = cli(['token', '--rejected', '-'], `${rejected}\n`);
  let done: CliResult | undefined;
  void running.then((r) => { done = r; });
  await waitFor('the IdP to grant the refresh', 20_000, () => {
    if (done) assert.fail(`the CLI ended before the IdP granted its refresh (exit ${done.code}): ${done.stderr}`);
    return idp.counters().refreshGrants === 1;
  });
  if (fault === 'ENOSPC') disk.fill();
  else disk.readOnly();
  await idp.setFault('none');
  return running;
}

type Fault = 'ENOSPC' | 'EROFS';
const CAUSE: Record<Fault, string> = { ENOSPC: 'the disk is full: ENOSPC', EROFS: 'its file system is read-only: EROFS' };
const repair = (fault: Fault) => (fault === 'ENOSPC' ? disk.free() : disk.readWrite());

describe('a one-shot CLI that refreshed while its slot directory is full', () => {
  before(async () => {
    idp = await startIdp({ accessTokenTtl: 60 });
    cliJs = await readableCli('/tmp/trd-bin-');
  });
  after(async () => {
    await idp?.close();
    if (cliJs) rmSync(dirname(cliJs), { recursive: true, force: true });
  });
  // Each test on its own store (a small tmpfs for the slots), signed in from the terminal.
  beforeEach(async () => {
    home = mkdtempSync('/tmp/trd-home-');
    runtime = mkdtempSync('/tmp/trd-'); // short: the socket path must fit sun_path
    mkdirSync(state(), { mode: 0o700 });
    disk = SmallDisk.mount(join(state(), 'slots'));
    writeFileSync(join(home, 'config.json'), JSON.stringify({ profiles: { default: { issuer: idp.issuer, clientId: idp.clientId, scopes: ['openid', 'offline_access'] } } }));
    for (const path of [home, runtime, state(), join(state(), 'slots'), join(home, 'config.json')]) chownSync(path, TEST_USER.uid, TEST_USER.gid);
    await deviceSignIn();
  });
  afterEach(() => {
    disk?.unmount();
    rmSync(home, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });

  for (const fault of ['ENOSPC', 'EROFS'] as const) {
  test(`${fault}, beside a live window process: handed over sealed; the window serves it and writes it once there is room; 1 refresh, nobody signed out`, async () => {
    const world = await World.create({ storeModel: 'shared-lag', idp });
    let win: WindowProcess | undefined;
    try {
      const key = slotKey();
      // A window of this store: the same slot, K from the same key file, its peer socket where the CLI looks; no terminal socket, so the CLI answers itself.
      win = await world.spawn('window', {
        slotDir: join(state(), 'slots', key), secretKey: secretKeyOf(key), keySecret: keySecretOf(key), keysDir: join(state(), 'keys'),
        socketDir: join(runtime, 'tokenrelay'), scopes: ['openid', 'offline_access'],
        runAs: TEST_USER, storePath: join(home, 'window-secrets'), logFile: join(home, 'window.log'),
      });
      const [held] = await win.getTokens(1);
      assert.ok(held.ok, held.message);
      const before = generations();

      const refreshed = await refreshOntoBrokenDisk(fault, held.token!);
      assert.equal(refreshed.code, EXIT.ok, refreshed.stderr);
      const token = refreshed.stdout.trim();
      assert.ok(token && token !== held.token, 'the CLI was served the new generation');
      assert.equal(generations(), before, 'nothing could be written');

      const [served] = await win.getTokens(1);
      assert.ok(served.ok, served.message);
      assert.equal(served.token, token, 'the window serves the generation the CLI could not write');
      repair(fault);
      await waitFor('the window to write the handed-over generation', 15_000, () => generations() > before);
      const after = await cli(['token']);
      assert.equal(after.code, EXIT.ok, after.stderr);
      assert.equal(after.stdout.trim(), token, 'a new process reads it from the store: nobody has to sign in again');
      assert.deepEqual([idp.counters().refreshGrants, idp.counters().grantRevocations], [1, 0]);
    } finally {
      repair(fault);
      await win?.close();
      await world.close();
    }
  });

  test(`${fault}, with no window or agent: the CLI says what is lost and exits non-zero`, async () => {
    const held = await cli(['token']);
    assert.equal(held.code, EXIT.ok, held.stderr);
    try {
      const refreshed = await refreshOntoBrokenDisk(fault, held.stdout.trim());
      assert.equal(refreshed.code, EXIT.storage, refreshed.stderr);
      assert.equal(refreshed.stdout, '');
      assert.match(refreshed.stderr, /the new session exists only in this process, which is exiting; other processes will need a new sign-in/);
      assert.ok(refreshed.stderr.includes(CAUSE[fault]), refreshed.stderr);
      assert.match(refreshed.stderr, /run "tokenrelay sign-in"/);
      assert.ok(!refreshed.stderr.includes(held.stdout.trim()), 'no token on stderr');
      assert.equal(idp.counters().refreshGrants, 1);
    } finally {
      repair(fault);
    }
  });
  }
});
