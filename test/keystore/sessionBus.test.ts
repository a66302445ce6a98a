// The session bus fallback for cron and SSH: only a socket of this user, only when nothing is named.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSessionBus } from '../../src/keystore/sessionBus.ts';

test('withSessionBus: a named bus wins; else $XDG_RUNTIME_DIR/bus, else <run root>/<uid>/bus; a file or another user\'s socket is not a bus', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tokenrelay-bus-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const uid = process.getuid!();
  const userDir = join(root, String(uid));
  mkdirSync(userDir);
  assert.equal(withSessionBus({}, root, uid).DBUS_SESSION_BUS_ADDRESS, undefined, 'no socket: nothing invented');
  writeFileSync(join(userDir, 'bus'), '');
  assert.equal(withSessionBus({}, root, uid).DBUS_SESSION_BUS_ADDRESS, undefined, 'a plain file is not a bus');
  rmSync(join(userDir, 'bus'));
  const server = createServer().listen(join(userDir, 'bus'));
  await new Promise((r) => server.once('listening', r));
  t.after(() => server.close());
  assert.equal(withSessionBus({}, root, uid).DBUS_SESSION_BUS_ADDRESS, `unix:path=${join(userDir, 'bus')}`);
  assert.equal(withSessionBus({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/x' }, root, uid).DBUS_SESSION_BUS_ADDRESS, 'unix:path=/x');
  assert.equal(withSessionBus({ XDG_RUNTIME_DIR: userDir }, join(root, 'none'), uid).DBUS_SESSION_BUS_ADDRESS, `unix:path=${join(userDir, 'bus')}`);
  assert.equal(withSessionBus({}, root, uid + 1).DBUS_SESSION_BUS_ADDRESS, undefined, 'another uid\'s directory is not searched for this user');
});
