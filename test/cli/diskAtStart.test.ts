// A one-shot CLI started while the store is read-only or full: reading a stored, still-valid
// generation needs no write, so it prints the token; `status` names the directory and the fix; once
// the disk takes writes again nothing is left to repair. Needs root (a real tmpfs).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { signInFromTerminal } from '../support/deviceSignIn.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { SmallDisk } from '../harness/smallDisk.ts';
import { cliBundle, runChild } from './support.ts';

const CAUSE = { EROFS: 'its file system is read-only: EROFS', ENOSPC: 'the disk is full: ENOSPC' } as const;

describe('a CLI started on a read-only or full store', { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' }, () => {
  let idp: Idp;
  let home: string;
  let disk: SmallDisk;
  const env = (): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH!, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: join(home, 'run'),
    TOKENRELAY_HOME: join(disk.dir, 'state'), TOKENRELAY_CONFIG: join(home, 'config.json'), TOKENRELAY_KEY_STORE: 'file',
  });
  const cli = async (args: string[]) => runChild(process.execPath, [(await cliBundle()).cliJs, ...args], { env: env(), cwd: home, timeoutMs: 30_000 });

  before(async () => {
    idp = await startIdp({ accessTokenTtl: 300 });
    home = mkdtempSync(join(tmpdir(), 'tokenrelay-diskstart-'));
    disk = SmallDisk.mount(join(home, 'disk'));
    assert.equal(await signInFromTerminal((await cliBundle()).cliJs, env(), idp, 'erin', home), 0);
  });
  after(async () => {
    disk?.unmount();
    await idp?.close();
    rmSync(home, { recursive: true, force: true });
  });

  for (const fault of ['EROFS', 'ENOSPC'] as const) {
    test(`${fault}: the stored, still-valid token is printed; status says degraded, naming the directory and the fix; nothing refreshed`, async () => {
      const before = await cli(['token']);
      assert.equal(before.code, 0, before.stderr);
      idp.resetCounters();
      if (fault === 'EROFS') disk.readOnly();
      else disk.fill();
      try {
        const r = await cli(['token']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, before.stdout, 'the stored generation, read without a write');
        const status = await cli(['status']);
        assert.match(status.stdout, /^state: +degraded - the slot directory cannot be written/m);
        assert.match(status.stdout + status.stderr, new RegExp(`${CAUSE[fault].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        assert.equal(idp.counters().refreshGrants, 0);
      } finally {
        if (fault === 'EROFS') disk.readWrite();
        else disk.free();
      }
      const healed = await cli(['token']);
      assert.equal(healed.code, 0, healed.stderr);
      assert.equal(healed.stdout, before.stdout);
    });
  }
});
