// Builds the VSIXs a suite installs: the real extension and the test-only probe.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { probeDir, repoRoot } from './paths.ts';

const execFileP = promisify(execFile);

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  try {
    await execFileP(cmd, args, { cwd, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    const tail = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd} (exit ${e.code}):\n${tail}`);
  }
}

/** `npm run package` in the repo root; returns <repo>/tokenrelay.vsix. Call once per suite. */
export async function packageVsix(): Promise<string> {
  const vsix = join(repoRoot, 'tokenrelay.vsix');
  rmSync(vsix, { force: true }); // never hand back a stale build
  await run('npm', ['run', 'package'], repoRoot);
  if (!existsSync(vsix)) throw new Error(`npm run package did not produce ${vsix}`);
  return vsix;
}

let probe: Promise<string> | undefined;

/** Packages test/e2e/probe from a temp copy (vsce writes into the folder); memoized per process. */
export function packageProbe(): Promise<string> {
  probe ??= (async () => {
    const work = mkdtempSync(join(tmpdir(), 'tokenrelay-probe-'));
    process.on('exit', () => rmSync(work, { recursive: true, force: true }));
    const src = join(work, 'probe');
    cpSync(probeDir, src, { recursive: true, filter: (p) => !p.endsWith('.vsix') });
    const out = join(work, 'probe.vsix');
    const vsce = join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce');
    await run(process.execPath, [vsce, 'package', '--no-dependencies', '--allow-missing-repository',
      '--skip-license', '--no-update-package-json', '--out', out], src);
    return out;
  })();
  return probe;
}
