// Issue 11, item 9: a read-only (EROFS), full (ENOSPC) or permission-denied (EACCES) slot or lock
// directory reaches the terminal as a named error: the CLI's stderr names the directory and the
// fix, with its own exit code (never "internal error"), and so do the window's log and status.
// Real file systems: a small tmpfs remounted read-only or filled; for EACCES a 0500 directory and
// a window without CAP_DAC_OVERRIDE (root would write through the mode otherwise).
import '../vscode/setup.ts';
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { runCli } from '../cli/support.ts';
import { EXIT } from '../../src/ipc/tokenProtocol.ts';
import { SmallDisk } from '../harness/smallDisk.ts';
import { fake } from '../vscode/fake/vscode.ts';
import { World as VsCodeWorld, allLogText, browserLogin, idpSettings } from '../vscode/helpers.ts';
import { startIdp } from '../idp/server.ts';

type Fault = 'EROFS' | 'ENOSPC' | 'EACCES';

interface Case { fault: Fault; where: 'slot' | 'lock' }

const CASES: Case[] = [
  { fault: 'EROFS', where: 'slot' },
  { fault: 'ENOSPC', where: 'slot' },
  { fault: 'EACCES', where: 'slot' },
  { fault: 'EACCES', where: 'lock' },
];

const CAUSE: Record<Fault, string> = { EROFS: 'its file system is read-only', ENOSPC: 'the disk is full', EACCES: 'permission denied' };
const FIX: Record<Fault, string> = {
  EROFS: 'Make the directory writable: remount its file system read-write.',
  ENOSPC: 'Make the directory writable: free disk space on its file system.',
  EACCES: 'Make the directory writable by your user (chmod u+rwx, or chown it to yourself).',
};

/** Makes `dir` refuse writes with `fault`; returns the undo. */
function breakDir(world: World, fault: Fault, dir: string): () => void {
  if (fault === 'EROFS') {
    world.disk!.readOnly();
    return () => world.disk!.readWrite();
  }
  if (fault === 'ENOSPC') {
    world.disk!.fill();
    return () => world.disk!.free();
  }
  chmodSync(dir, 0o500);
  return () => chmodSync(dir, 0o700);
}

let world: World | undefined;
after(async () => { await world?.close(); });

describe('named file-system errors from the CLI', () => {
  for (const c of CASES) {
    test(`${c.fault} on the ${c.where} directory: the CLI names the directory and the fix`, { timeout: 60_000 }, async (t) => {
      world = await World.create({ storeModel: 'shared-lag', ttl: 60, smallDisk: c.fault !== 'EACCES' });
      try {
        await world.signIn();
        const win = await world.spawn('window', { terminal: true, honourFileModes: c.fault === 'EACCES' });
        const [held] = await win.getTokens(1);
        assert.ok(held.ok, held.message);
        const dir = c.where === 'slot' ? world.slotDir : join(world.slotDir, 'lock');
        const restore = breakDir(world, c.fault, dir);

        const reported = await runCli(win.socketPath!, ['token', '--rejected', '-'], { input: `${held.token}\n` });
        t.diagnostic(`exit ${reported.code}: ${reported.stderr.trim()}`);
        assert.equal(reported.code, EXIT.storage, reported.stderr);
        assert.doesNotMatch(reported.stderr, /internal|unexpected/i);
        assert.ok(reported.stderr.includes(`cannot write its slot directory ${world.slotDir} (${CAUSE[c.fault]}: ${c.fault}`), reported.stderr);
        if (c.where === 'lock') assert.ok(reported.stderr.includes(`, in ${dir})`), 'the folder that refused is named');
        if (c.fault === 'EACCES' && c.where === 'slot') assert.doesNotMatch(reported.stderr, /, in /, 'the slot directory itself refused');
        assert.ok(reported.stderr.includes(FIX[c.fault]), reported.stderr);
        assert.equal(reported.stdout, '', 'no token printed');
        // The window's log says the same; nothing was presented to the IdP.
        assert.ok(world.logs().includes(`cannot write its slot directory ${world.slotDir} (${CAUSE[c.fault]}`), 'the log names it');
        assert.equal(world.idp.counters().refreshGrants, 0);
        // The session is kept (degraded, until the directory takes writes): status names the directory and the fix.
        const status = await runCli(win.socketPath!, ['status']);
        assert.equal(status.code, EXIT.ok, status.stderr);
        assert.match(status.stdout, /^state: +degraded - the slot directory cannot be written/m);
        assert.ok(status.stdout.includes(world.slotDir) && status.stdout.includes(FIX[c.fault]), status.stdout);
        const json = JSON.parse((await runCli(win.socketPath!, ['status', '--json'])).stdout);
        assert.equal(json.errorCode, 'degraded');
        assert.ok(json.error.includes(FIX[c.fault]), json.error);
        // Writable again: the same request works, no restart.
        restore();
        const healed = await runCli(win.socketPath!, ['token', '--rejected', '-'], { input: `${held.token}\n` });
        assert.equal(healed.code, EXIT.ok, healed.stderr);
        assert.notEqual(healed.stdout.trim(), held.token);
      } finally {
        await world.close();
        world = undefined;
      }
    });
  }
});

describe('named file-system errors in the window: status bar, notification, log', () => {
  for (const fault of ['EROFS', 'ENOSPC'] as const) {
    test(`a window started while the store is ${fault === 'EROFS' ? 'read-only' : 'full'} serves the stored session, degraded, and heals`, { timeout: 60_000 }, async () => {
      const idp = await startIdp({ accessTokenTtl: 300 });
      const vs = new VsCodeWorld('isolated');
      const disk = SmallDisk.mount(vs.store);
      fake.reset();
      try {
        fake.setSettings(idpSettings(idp));
        const first = await vs.openWindow();
        fake.openExternal = browserLogin('alice');
        const signedIn = await first.provider.createSession(['openid'], {});
        await vs.closeWindow(first);
        if (fault === 'EROFS') disk.readOnly();
        else disk.fill();
        const win = await vs.openWindow({ secrets: first.secrets }); // its registration for siblings cannot be written
        await fake.waitFor(() => win.item.text === '$(warning) alice', 10_000, 'degraded, the session kept');
        const sessions = await win.provider.getSessions(['openid'], {});
        assert.equal(sessions[0]?.accessToken, signedIn.accessToken, 'the stored, still valid token is served: reading needs no write');
        assert.match(win.item.tooltipText.replace(/\\/g, ''), new RegExp(`cannot write its slot directory ${join(vs.store, 'slots')}/\\S+ \\(${CAUSE[fault]}`));
        if (fault === 'EROFS') disk.readWrite();
        else disk.free();
        await fake.waitFor(() => win.item.text === '$(key) alice', 10_000, 'healed once writable');
        assert.equal(idp.counters().refreshGrants, 0);
      } finally {
        for (const w of [...vs.windows]) await vs.closeWindow(w);
        disk.unmount();
        await vs.close();
        await idp.close();
      }
    });

    test(`${fault} in the store of record: the tooltip and the notification name the directory and the fix`, { timeout: 60_000 }, async () => {
      const idp = await startIdp({ accessTokenTtl: 60 });
      const vs = new VsCodeWorld('isolated');
      const disk = SmallDisk.mount(vs.store);
      fake.reset();
      try {
        fake.setSettings(idpSettings(idp));
        const win = await vs.openWindow();
        fake.openExternal = browserLogin('alice');
        await win.provider.createSession(['openid'], {});
        if (fault === 'EROFS') disk.readOnly();
        else disk.fill();
        const shown = fake.messages.length;
        await fake.commands.get('tokenrelay.refreshNow')!.at(-1)!();
        const message = await fake.waitFor(() => fake.messages.slice(shown).find((m) => m.severity === 'error'), 5000, 'the error notification');
        const slots = join(vs.store, 'slots');
        for (const text of [message.message, win.item.tooltipText.replace(/\\/g, ''), allLogText()]) {
          assert.match(text, new RegExp(`cannot write its slot directory ${slots}/\\S+ \\(${CAUSE[fault]}: ${fault}`));
          assert.ok(text.includes(FIX[fault]), text);
          assert.doesNotMatch(text, /internal error/i);
        }
        assert.equal(win.item.text, '$(warning) alice', 'degraded: the session is kept');
        if (fault === 'EROFS') disk.readWrite();
        else disk.free();
        await fake.waitFor(() => win.item.text === '$(key) alice', 10_000, 'healed once writable');
      } finally {
        for (const w of [...vs.windows]) await vs.closeWindow(w);
        disk.unmount();
        await vs.close();
        await idp.close();
      }
    });
  }
});
