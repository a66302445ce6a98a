// Proves the e2e harness end to end: probe VSIX in a real code-server, palette command,
// terminal command, and a complete teardown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  launchBrowser, liveProcesses, openWorkbench, packageProbe, runCommand, runInTerminal,
  named, saveLog, screenshotOnFailure, startCodeServer, waitForFile, type CodeServer,
} from './harness.ts';

test(named('harness smoke: probe command and terminal in real code-server'), { timeout: 180_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tokenrelay-smoke-'));
  const probeOut = join(tmp, 'probe.json');
  const answer = join(tmp, 'answer.txt');
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let probePid = 0;
  try {
    server = await startCodeServer({
      vsixPaths: [await packageProbe()],
      settings: { 'tokenrelayProbe.outFile': probeOut },
    });
    browser = await launchBrowser();
    page = await openWorkbench(browser, server.url);

    await runCommand(page, 'Token Relay Probe: Get Session');
    const result = JSON.parse(await waitForFile(probeOut, 30_000));
    // tokenrelay itself is not installed here, so the provider is unknown.
    assert.deepEqual(Object.keys(result).sort(), ['accessToken', 'account', 'error', 'ok', 'pid']);
    assert.equal(result.ok, false);
    assert.equal(result.account, null);
    assert.equal(result.accessToken, null);
    assert.match(result.error, /authentication provider/);
    assert.equal(typeof result.pid, 'number');
    probePid = result.pid;

    await runInTerminal(page, `echo $((6*7)) > ${answer}`);
    assert.equal((await waitForFile(answer, 20_000)).trim(), '42');
  } catch (err) {
    await screenshotOnFailure(page, 'smoke');
    saveLog(server?.logFile, 'smoke-code-server');
    throw err;
  } finally {
    await browser?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }

  assert.deepEqual(liveProcesses(server.pid), [], 'code-server process group still alive');
  assert.deepEqual(liveProcesses(probePid), [], 'extension host still alive');
  await assert.rejects(fetch(`${server.url}/healthz`), 'code-server port still answering');
});
