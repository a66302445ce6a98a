// `npm start` as a newcomer runs it: the demo starts, a browser signs in through the status bar,
// a terminal reaches the API with `tokenrelay fetch`, and Ctrl+C (SIGINT to the foreground process
// group, as a terminal sends it) stops code-server, the IdP and the API, leaving nothing behind.
import { sleep } from '../support/wait.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { freePort, launchBrowser, liveProcesses, openWorkbench, repoRoot, saveText, screenshotOnFailure } from './harness.ts';
import { STATUS_ITEM, shell, signInThroughPopup, waitForStatus } from './lib/tokenrelay.ts';
import { CODE_SERVERS, DEFAULT_CODE_SERVER } from '../../scripts/setup-code-server.mjs';

// `npm start` serves the default code-server whatever this run's TOKENRELAY_CODE_SERVER says
// (the variable is not passed on), so the name carries that version.
const DEMO_VSCODE = CODE_SERVERS[DEFAULT_CODE_SERVER].vscode;


/** Live processes whose command line mentions `needle` (e.g. the demo's temp root). */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) found.push(Number(name));
    } catch { /* exited */ }
  }
  return found;
}

/** The environment a user's `npm start` has: without the e2e run's version selection. */
function withoutE2eTarget(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { TOKENRELAY_CODE_SERVER: _version, TOKENRELAY_E2E_SCENARIOS: _scenarios, ...rest } = env;
  return rest;
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return false;
  } catch {
    return true;
  }
}

test(`[VS Code ${DEMO_VSCODE}] npm start: demo runs, signs in from the status bar, serves the CLI, and Ctrl+C stops everything`, { timeout: 240_000 }, async () => {
  const port = await freePort();
  const work = mkdtempSync(join(tmpdir(), 'tokenrelay-demo-test-'));
  let output = '';
  const demo = spawn('npm', ['start'], {
    cwd: repoRoot,
    env: { ...withoutE2eTarget(process.env), PORT: String(port), NODE_OPTIONS: '' },
    detached: true, // its own process group, like a terminal's foreground job
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout.on('data', (b: Buffer) => { output += b.toString(); });
  demo.stderr.on('data', (b: Buffer) => { output += b.toString(); });
  const exited = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
  let browser: Browser | undefined;
  let page: Page | undefined;
  try {
    const deadline = Date.now() + 180_000; // includes `npm run package` and, on a fresh machine, the code-server install
    while (!/Press Ctrl\+C to stop everything/.test(output)) {
      if (demo.exitCode !== null) throw new Error(`demo exited early (${demo.exitCode})`);
      if (Date.now() > deadline) throw new Error('demo did not come up within 180 s');
      await sleep(200);
    }
    assert.match(output, /any username works/);
    const url = /Open:\s+(http:\/\/127\.0\.0\.1:\d+)\/?/.exec(output)?.[1];
    const issuer = /IdP \(issuer\):\s+(\S+)/.exec(output)?.[1];
    const api = /API:\s+(\S+)/.exec(output)?.[1];
    const logFile = /code-server log: (\S+)/.exec(output)?.[1];
    assert.equal(url, `http://127.0.0.1:${port}`, 'the demo listens on 127.0.0.1:$PORT');
    assert.ok(issuer && api && logFile, `demo banner incomplete:\n${output}`);
    assert.equal((await fetch(`${url}/healthz`)).ok, true);
    assert.equal((await fetch(`${issuer}/.well-known/openid-configuration`)).ok, true);

    browser = await launchBrowser();
    page = await openWorkbench(browser, url!);
    await waitForStatus(page, /Token Relay: Sign in$/, 30_000);
    const popup = await signInThroughPopup(page, () => page!.locator(STATUS_ITEM).click(), 'demo-user');
    await popup.close();
    await waitForStatus(page, /demo-user/, 20_000);
    const fetched = await shell(page, work, `tokenrelay fetch ${api}`);
    assert.equal(fetched.code, 0, `tokenrelay fetch in the demo failed: ${fetched.stderr}`);
    assert.equal(JSON.parse(fetched.stdout).sub, 'demo-user');
    assert.match(output, /sign-in completed/, 'the demo console narrates the IdP events');
    await browser.close();
    browser = undefined;

    // Ctrl+C: SIGINT to the whole foreground process group (npm and the demo script).
    const demoRoot = dirname(logFile!);
    process.kill(-demo.pid!, 'SIGINT');
    const code = await Promise.race([exited, sleep(20_000).then(() => 'timeout' as const)]);
    assert.notEqual(code, 'timeout', 'the demo did not exit within 20 s of Ctrl+C');
    assert.match(output, /stopped\./);
    assert.deepEqual(liveProcesses(demo.pid!), [], 'demo process group still alive');
    assert.deepEqual(processesMentioning(demoRoot), [], 'code-server or its extension hosts still alive');
    assert.equal(existsSync(demoRoot), false, 'the demo temp dir was not removed');
    assert.equal(await refused(`${url}/healthz`), true, 'code-server still answering');
    assert.equal(await refused(`${issuer}/.well-known/openid-configuration`), true, 'IdP still answering');
    assert.equal(await refused(api!), true, 'API still answering');
  } catch (err) {
    await screenshotOnFailure(page, 'demo');
    saveText(output, 'demo-output.log');
    throw err;
  } finally {
    await browser?.close();
    if (demo.exitCode === null) {
      // Failed half-way: stop it the way a user would (code-server runs in its own process group,
      // so a SIGKILL of the demo alone would orphan it), and only then force.
      try { process.kill(-demo.pid!, 'SIGINT'); } catch { /* gone */ }
      await Promise.race([exited, sleep(20_000)]);
      try { process.kill(-demo.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
    const root = /code-server log: (\S+)\/code-server\.log/.exec(output)?.[1];
    if (root) {
      for (const pid of processesMentioning(root)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    rmSync(work, { recursive: true, force: true });
  }
});
