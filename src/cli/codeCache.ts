// Loads a bundle of ours (dist/host.js) with V8's code cache, as node ≥ 22.1's module.enableCompileCache
// does, for the runtimes without it: compiling the 190 KB bundle was ~4 ms of every no-window
// `tokenrelay token`. The cache holds compiled code of the shipped bundle only, never a secret; it
// lives in this user's private $TMPDIR/tokenrelay-<uid> (a socket directory candidate, same rule),
// and V8 rejects data made for another source length, V8 version or flag set. Any failure: plain require.
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { isPrivateDirStat } from '../ipc/socketPaths.ts';

export function requireWithCodeCache(file: string): unknown {
  let dir: string;
  let cacheFile: string;
  let source: string;
  try {
    dir = privateCacheDir();
    const stat = statSync(file);
    const prefix = `${basename(file, '.js')}-v8-`;
    cacheFile = join(dir, `${prefix}${stat.size}-${Math.trunc(stat.mtimeMs)}-${process.version}-${process.arch}`);
    source = readFileSync(file, 'utf8');
  } catch {
    return require(file); // eslint-disable-line @typescript-eslint/no-require-imports
  }
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(wrap(source), { filename: file, cachedData });
  const module = { exports: {} as unknown };
  (script.runInThisContext() as (...args: unknown[]) => void)
    .call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  // Made at exit, so it holds the functions this run compiled too, not only the top level.
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => saveQuietly(dir, cacheFile, script));
  return module.exports;
}

/** $TMPDIR/tokenrelay-<uid>, made 0700 when missing; used only if it is a private directory of this user. */
function privateCacheDir(): string {
  const dir = join(tmpdir(), `tokenrelay-${process.getuid!()}`);
  let stat = lstatSync(dir, { throwIfNoEntry: false });
  if (!stat) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    stat = lstatSync(dir);
  }
  if (!isPrivateDirStat(stat)) throw new Error('not a private directory');
  return dir;
}

/** Written whole (temp file, rename); older caches of the same bundle are removed. */
function saveQuietly(dir: string, cacheFile: string, script: Script): void {
  try {
    const temp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
    renameSync(temp, cacheFile);
    const prefix = basename(cacheFile).replace(/v8-.*$/, 'v8-');
    for (const name of readdirSync(dir)) {
      if (name.startsWith(prefix) && name !== basename(cacheFile) && !name.endsWith('.tmp')) unlinkSync(join(dir, name));
    }
  } catch {
    // A read-only or full $TMPDIR: the next run compiles again.
  }
}
