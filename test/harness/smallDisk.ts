// A real small file system for the slot directory (tmpfs; needs root, as CI and this project's
// machines run): it can be filled (ENOSPC) and remounted read-only (EROFS) at a chosen instant.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class SmallDisk {
  private readonly filler: string;

  private constructor(readonly dir: string) {
    this.filler = join(dir, '.filler');
  }

  static mount(dir: string, sizeKb = 2048): SmallDisk {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir]);
    return new SmallDisk(dir);
  }

  /** Writes until the file system refuses: every later write fails with ENOSPC. */
  fill(): void {
    const fd = openSync(this.filler, 'a');
    const chunk = Buffer.alloc(64 * 1024);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
  }

  free(): void {
    try { unlinkSync(this.filler); } catch { /* not filled */ }
  }

  readOnly(): void {
    execFileSync('mount', ['-o', 'remount,ro', this.dir]);
  }

  readWrite(): void {
    execFileSync('mount', ['-o', 'remount,rw', this.dir]);
  }

  unmount(): void {
    try { execFileSync('umount', ['-l', this.dir]); } catch { /* already gone */ }
  }
}
