// The Secret Service adapter against a real gnome-keyring on a private D-Bus session (harness
// keyringSession.ts), and its failure classification against what secret-tool really prints.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SecretToolKeyStore, classifySecretToolFailure, secretToolArgs } from '../../src/keystore/secretToolKeyStore.ts';
import { isTokenRelayError, type TokenRelayError } from '../../src/core/errors.ts';
import { keyringToolsPresent, startKeyringSession, type KeyringSession } from '../harness/keyringSession.ts';
import { rejectsWith as rejectsWithSecret } from './support.ts';

const skip = keyringToolsPresent() ? false : 'needs secret-tool, gnome-keyring-daemon, dbus-daemon and gdbus (scripts/ensure-system-packages.sh)';
const K = 'k-3f9a1c"quote\' space\\back/slash ü';

const rejectsWith = (p: Promise<unknown>, message: RegExp, fix: RegExp) => rejectsWithSecret(p, message, fix, K);

describe('secret-tool adapter on a real gnome-keyring', { skip }, () => {
  let session: KeyringSession;
  let scratch: string;
  let argvLog: string;
  let store: SecretToolKeyStore;

  before(async () => {
    session = await startKeyringSession();
    scratch = mkdtempSync(join(tmpdir(), 'tokenrelay-secrettool-'));
    // A wrapper that records each argv and environment the adapter really uses, then runs secret-tool.
    argvLog = join(scratch, 'argv.log');
    const wrapper = join(scratch, 'secret-tool-wrapper');
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${argvLog}'\nenv >> '${argvLog}'\nexec secret-tool "$@"\n`);
    chmodSync(wrapper, 0o700);
    store = new SecretToolKeyStore({ env: session.env, command: wrapper });
  });
  after(async () => {
    await session?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('set, get, overwrite and delete round-trip exactly; a missing entry is undefined', async () => {
    assert.equal(await store.get('tokenrelay/v2/slot/key'), undefined);
    await store.set('tokenrelay/v2/slot/key', K);
    assert.equal(await store.get('tokenrelay/v2/slot/key'), K);
    // A second entry (the mark) beside K does not disturb it.
    await store.set('tokenrelay/v2/slot/key/mark', '{"v":1,"gen":3}');
    await store.set('tokenrelay/v2/slot/key', `${K}-2\n`);
    assert.equal(await store.get('tokenrelay/v2/slot/key'), `${K}-2\n`, 'a trailing newline is kept, none is added');
    assert.equal(await store.get('tokenrelay/v2/slot/key/mark'), '{"v":1,"gen":3}');
    await store.delete('tokenrelay/v2/slot/key');
    assert.equal(await store.get('tokenrelay/v2/slot/key'), undefined);
    await store.delete('tokenrelay/v2/slot/key'); // already gone: no error
    assert.equal(await store.get('tokenrelay/v2/slot/key/mark'), '{"v":1,"gen":3}');
  });

  test('the secret is never in secret-tool\'s argv or environment', async () => {
    await store.set('argv-check', K);
    assert.equal(await store.get('argv-check'), K);
    const log = readFileSync(argvLog, 'utf8');
    assert.match(log, /^store$/m, 'the wrapper saw the calls');
    assert.match(log, /^argv-check$/m);
    assert.ok(!log.includes('k-3f9a1c'), 'the secret appeared in argv or env');
    assert.deepEqual(secretToolArgs('store', 'n'), ['store', '--label=Token Relay: n', 'service', 'tokenrelay', 'name', 'n']);
  });
});

describe('secret-tool adapter from cron: no DBUS_SESSION_BUS_ADDRESS, no XDG_RUNTIME_DIR', { skip }, () => {
  let session: KeyringSession;
  before(async () => { session = await startKeyringSession(); });
  after(async () => { await session?.stop(); });

  test("finds the logged-in user's bus at <run root>/<uid>/bus, where systemd's user manager puts it", async () => {
    const runRoot = dirname(session.env.XDG_RUNTIME_DIR!);
    // The session's runtime directory stands in for /run/user/<uid>: the bus socket is <dir>/bus.
    const uidDir = join(runRoot, String(process.getuid!()));
    symlinkSync(session.env.XDG_RUNTIME_DIR!, uidDir);
    try {
      const cron = { PATH: session.env.PATH, HOME: session.env.HOME, LANG: 'C.UTF-8' };
      await new SecretToolKeyStore({ env: session.env }).set('cron-check', K);
      assert.equal(await new SecretToolKeyStore({ env: cron, runRoot }).get('cron-check'), K);
      // Without the fallback the same environment has no bus at all, and says so.
      await rejectsWith(new SecretToolKeyStore({ env: cron, runRoot: join(runRoot, 'nowhere') }).get('cron-check'), /no D-Bus session bus \(DBUS_SESSION_BUS_ADDRESS is not set/, /TOKENRELAY_KEY_STORE=file/);
    } finally {
      rmSync(uidDir, { force: true });
    }
  });
});

describe('secret-tool adapter: a locked keyring', { skip }, () => {
  let home: string | undefined;
  let locked: KeyringSession | undefined;

  before(async () => {
    // A keyring created and filled unlocked, then the daemon restarted without its password:
    // the login collection is locked and no prompt can be shown (none is on this bus).
    const first = await startKeyringSession();
    await new SecretToolKeyStore({ env: first.env }).set('locked-entry', K);
    await first.stop(true);
    home = first.home;
    locked = await startKeyringSession({ home, keyring: 'locked' });
  });
  after(async () => {
    await locked?.stop();
    if (home) rmSync(dirname(home), { recursive: true, force: true });
  });

  test('get, set and delete name the locked keyring and how to unlock it', async () => {
    const store = new SecretToolKeyStore({ env: locked!.env });
    // secret-tool lookup is silent (exit 1) here, as for a missing item: the adapter must not say "none".
    await rejectsWith(store.get('locked-entry'), /locked/, /Unlock your login keyring.*gnome-keyring-daemon --unlock.*TOKENRELAY_KEY_STORE=file/);
    await rejectsWith(store.set('locked-entry', K), /locked/, /Unlock your login keyring/);
    await rejectsWith(store.delete('locked-entry'), /locked/, /Unlock your login keyring/);
  });
});

describe('secret-tool adapter: no keyring, no D-Bus, no secret-tool, no answer', { skip }, () => {
  test('a bus without a Secret Service provider', async () => {
    const session = await startKeyringSession({ keyring: 'none' });
    try {
      const store = new SecretToolKeyStore({ env: session.env });
      await rejectsWith(store.get('x'), /no Secret Service provider.*org\.freedesktop\.secrets/, /gnome-keyring-daemon --start/);
      await rejectsWith(store.set('x', K), /no Secret Service provider/, /TOKENRELAY_KEY_STORE=file/);
    } finally {
      await session.stop();
    }
  });

  test('no D-Bus session: the address unset, or naming a bus that is not there', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tokenrelay-nobus-'));
    try {
      // XDG_RUNTIME_DIR without a `bus` socket, so GIO's fallback finds no user bus either.
      const unset = new SecretToolKeyStore({ env: { PATH: process.env.PATH, HOME: empty, XDG_RUNTIME_DIR: empty } });
      const err = await rejectsWith(unset.get('x'), /no D-Bus session bus.*DBUS_SESSION_BUS_ADDRESS is not set/, /dbus-run-session.*TOKENRELAY_KEY_STORE=file/);
      assert.match(err.message, /autolaunch D-Bus/);
      const bogus = new SecretToolKeyStore({ env: { PATH: process.env.PATH, HOME: empty, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(empty, 'no-bus')}` } });
      await rejectsWith(bogus.set('x', K), /no D-Bus session bus.*does not work.*Could not connect/, /dbus-run-session/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('secret-tool not installed', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tokenrelay-nopath-'));
    try {
      const store = new SecretToolKeyStore({ env: { PATH: empty } });
      await rejectsWith(store.get('x'), /secret-tool is not installed/, /apt install libsecret-tools.*TOKENRELAY_KEY_STORE=file/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('a secret-tool that never answers is cut off by the timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-hang-'));
    try {
      const hang = join(dir, 'hang');
      writeFileSync(hang, '#!/bin/sh\nexec tail -f /dev/null\n');
      chmodSync(hang, 0o700);
      const store = new SecretToolKeyStore({ command: hang, timeoutMs: 300 });
      const started = performance.now();
      await rejectsWith(store.set('x', K), /did not answer in time/, /Unlock your login keyring/);
      assert.ok(performance.now() - started < 5_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('classification of secret-tool\'s observed stderr lines', () => {
  const exited = (stderr: string) => ({ kind: 'exited' as const, code: 1, signal: null, stdout: '', stderr });
  const env = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus' };
  const cases: [string, RegExp][] = [
    ['secret-tool: Cannot autolaunch D-Bus without X11 $DISPLAY\n', /no D-Bus session bus/],
    ['secret-tool: Could not connect: No such file or directory\n', /no D-Bus session bus/],
    ['secret-tool: Address element “garbage” does not contain a colon (:)\n', /no D-Bus session bus/],
    ['secret-tool: The name org.freedesktop.secrets was not provided by any .service files\n', /no Secret Service provider/],
    ['secret-tool: Cannot create an item in a locked collection\n', /keyring is locked/],
    ['secret-tool: Cannot get secret of a locked object\n', /keyring is locked/],
    ['secret-tool: Object does not exist at path “/org/freedesktop/secrets/collection/login”\n', /no usable login collection/],
    ['secret-tool: something new\n', /secret-tool failed \(exit status 1: secret-tool: something new\)/],
  ];
  for (const [stderr, expected] of cases) {
    const err = classifySecretToolFailure(exited(stderr), 'write', env);
    assert.equal(err.code, 'key-store');
    assert.match(err.message, expected, stderr);
    assert.match(err.fix ?? '', /TOKENRELAY_KEY_STORE=file/);
  }
});
