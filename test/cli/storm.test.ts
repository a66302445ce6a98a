// A storm through the terminal path: concurrent CLI processes at expiry through one window's
// socket while two other window processes also need a refresh. One refresh at the IdP, no
// failures, and no token in the process table, the logs or the CLI's stderr.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTerminalStorm } from './storm.ts';

/** A line as the storm moves on, and one after every 3 s without any, so the run never looks stuck. */
function progressLines(name: string): { say(what: string): void; lines: string[]; stop(): void } {
  const started = Date.now();
  const lines: string[] = [];
  let doing = 'starting';
  let lastAt = started;
  const print = (text: string) => {
    lastAt = Date.now();
    const line = `# ${name} ${((lastAt - started) / 1000).toFixed(1)} s: ${text}`;
    lines.push(line);
    console.log(line);
  };
  const ticker = setInterval(() => { if (Date.now() - lastAt >= 3000) print(`${doing} (still)`); }, 500);
  return { say: (what) => { doing = what; print(what); }, lines, stop: () => clearInterval(ticker) };
}

test('200 concurrent `tokenrelay token` at expiry + two other windows: one refresh grant, no failures, no token exposed', async () => {
  const progress = progressLines('terminal storm');
  const report = await runTerminalStorm({ invocations: 200, windowRequests: 20, sampleProcessTable: true, progress: progress.say })
    .finally(() => progress.stop());
  assert.ok(progress.lines.some((l) => /CLI calls answered/.test(l)), 'the storm reported its progress');
  const at = progress.lines.map((l) => Number(/ ([\d.]+) s: /.exec(l)![1]));
  const gaps = at.slice(1).map((s, i) => s - at[i]);
  assert.ok(Math.max(...gaps) < 5, `never silent for 5 s (gaps: ${gaps.map((g) => g.toFixed(1)).join(', ')} s)`);
  assert.deepEqual(report.failures, []);
  assert.equal(report.failed, 0);
  assert.equal(report.windowFailures, 0);
  assert.equal(report.refreshGrants, 1, 'exactly one refresh grant across the window, its terminals and the other windows');
  assert.equal(report.distinctTokens, 1, 'every terminal got the refreshed token');
  assert.ok(report.exposed.processTable.length >= 3, `the process table was sampled during the storm (${report.exposed.processTable.length} samples)`);
  assert.ok(report.exposed.processTable.some((t) => t.includes('cli.js token')), 'the samples saw CLI processes');
  assert.ok(report.issuedTokens.length >= 4);
  const haystacks = { 'process table': report.exposed.processTable.join('\n'), logs: report.exposed.logs, 'CLI stderr': report.exposed.cliStderr };
  assert.ok(report.exposed.logs.length > 0);
  for (const [where, text] of Object.entries(haystacks)) {
    for (const secret of report.issuedTokens) assert.ok(!text.includes(secret), `a token appeared in the ${where}`);
  }
});
