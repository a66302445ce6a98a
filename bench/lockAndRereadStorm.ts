// The baseline for the no-window storm (bench/noWindow.ts stormNoWindow): the same number of
// one-shot lock-and-reread processes (bench/lockAndRereadOneShot.ts) started together at an expiry,
// each a separate `node <bundle>` as `tokenrelay token` is, against an IdP set up the same way.
// Issue 17's figure: waiter p99 tokenrelay / lockAndReread <= 0.5, with grants, failed, revocations.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { startIdp } from '../test/idp/server.ts';
import { completeAuthorization } from '../test/idp/login.ts';
import { BUNDLE_OPTIONS, cliBundle, repoRoot } from '../test/cli/support.ts';
import { SCOPES } from '../test/harness/fixture.ts';
import { OAuthClient } from '../src/oauth/oauthClient.ts';
import { signInWithLoopback } from '../src/oauth/loopbackFlow.ts';
import { serializeCredentials } from '../src/core/credentials.ts';
import { stormFigures, stormNoWindow, type NoWindowStorm, type Timer } from './noWindow.ts';

let bundled: Promise<string> | undefined;

/** The one-shot baseline bundled with the CLI's esbuild options, next to the bundled CLI. */
function lockAndRereadBundle(): Promise<string> {
  bundled ??= (async () => {
    const js = join((await cliBundle()).extensionDir, 'dist', 'lockAndReread.js');
    await build({ entryPoints: [join(repoRoot, 'bench', 'lockAndRereadOneShot.ts')], outfile: js, ...BUNDLE_OPTIONS });
    return js;
  })();
  return bundled;
}

/** `processes` one-shot lock-and-reread processes at an expiry: the IdP's counters and their wall times. */
export async function stormLockAndReread(processes: number, time: Timer): Promise<NoWindowStorm> {
  const js = await lockAndRereadBundle();
  const idp = await startIdp({ accessTokenTtl: 4 }); // as stormNoWindow's
  const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-bench-lar-'));
  try {
    const client = new OAuthClient({ issuer: idp.issuer, clientId: idp.clientId, scopes: SCOPES });
    const { tokens, account } = await signInWithLoopback(client, { openBrowser: async (url) => { await fetch(await completeAuthorization(url)); } });
    const file = join(dir, 'credentials.json');
    writeFileSync(file, serializeCredentials({ v: 1, gen: 1, account, tokens }), { mode: 0o600 });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, tokens.expiresAt - Date.now()) + 50)); // the token's expiry
    idp.resetCounters();
    const env = { PATH: process.env.PATH!, HOME: dir, TMPDIR: dir };
    const runs = await Promise.all(Array.from({ length: processes }, () => time(process.execPath, [js, file, idp.issuer, idp.clientId], env)));
    return stormFigures(runs, idp);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await idp.close();
  }
}

export interface StormVsLockAndReread {
  /** The first pair's storms (the figures bench:cli printed before the baseline existed). */
  tokenrelay: NoWindowStorm;
  lockAndReread: NoWindowStorm;
  /** Median over the pairs of tokenrelay p99 / lockAndReread p99 (target <= 0.5). */
  p99Ratio: number;
  pairs: { tokenrelay: NoWindowStorm; lockAndReread: NoWindowStorm; p99Ratio: number }[];
}

/** `pairs` pairs of storms, tokenrelay's and the baseline's, in alternating order (ABBA…) so drift in load hits both. */
export async function stormVsLockAndReread(cliJs: string, processes: number, pairs: number, time: Timer): Promise<StormVsLockAndReread> {
  await lockAndRereadBundle(); // not inside a timed storm
  const done: StormVsLockAndReread['pairs'] = [];
  for (let i = 0; i < pairs; i++) {
    let tokenrelay: NoWindowStorm, lockAndReread: NoWindowStorm;
    if (i % 2 === 0) {
      tokenrelay = await stormNoWindow(cliJs, processes, time);
      lockAndReread = await stormLockAndReread(processes, time);
    } else {
      lockAndReread = await stormLockAndReread(processes, time);
      tokenrelay = await stormNoWindow(cliJs, processes, time);
    }
    done.push({ tokenrelay, lockAndReread, p99Ratio: Math.round((tokenrelay.p99Ms / lockAndReread.p99Ms) * 100) / 100 });
  }
  const ratios = done.map((p) => p.p99Ratio).sort((a, b) => a - b);
  const mid = ratios.length / 2;
  const p99Ratio = ratios.length % 2 ? ratios[Math.floor(mid)] : Math.round(((ratios[mid - 1] + ratios[mid]) / 2) * 100) / 100;
  return { tokenrelay: done[0].tokenrelay, lockAndReread: done[0].lockAndReread, p99Ratio, pairs: done };
}
