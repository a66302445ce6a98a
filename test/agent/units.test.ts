// The service definitions that run the agent at login: contrib/ holds exactly what the generator
// writes, the systemd unit parses (and passes systemd-analyze where it is installed) and its
// ExecStart runs `agent --stay` with this installation's node and CLI, and the launchd plist's
// ProgramArguments say the same.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchdPlist, systemdUnit } from '../../src/agent/units.ts';
import { cliBundle, repoRoot, runChild } from '../cli/support.ts';

const CONTRIB_SYSTEMD = { node: '/usr/bin/node', cli: '/path/to/tokenrelay/dist/cli.js' };
const CONTRIB_LAUNCHD = { node: '/usr/local/bin/node', cli: '/path/to/tokenrelay/dist/cli.js', logFile: '/Users/you/Library/Logs/tokenrelay-agent.log' };

/** `[Section]` / `Key=Value` lines as systemd reads them (comments and blank lines skipped). */
function parseUnit(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | undefined;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) { current = sections[section[1]] = {}; continue; }
    const pair = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(pair && current, `not a unit line: ${line}`);
    current[pair[1]] = pair[2];
  }
  return sections;
}

/** systemd's command-line words: double quotes with backslash escapes; %% is a percent sign. */
function words(command: string): string[] {
  return [...command.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]).replace(/%%/g, '%'));
}

function programArguments(plist: string): string[] {
  const array = /<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(plist);
  assert.ok(array, 'ProgramArguments');
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  return [...array[1].matchAll(/<string>([^<]*)<\/string>/g)].map((m) => unescape(m[1]));
}

test('the VSIX ships the hosts\' bundle (the agent and the one-shot host) beside dist/cli.js, which loads it', () => {
  const ignore = readFileSync(join(repoRoot, '.vscodeignore'), 'utf8');
  assert.match(ignore, /^!dist\/host\.js$/m);
  assert.match(readFileSync(join(repoRoot, 'esbuild.mjs'), 'utf8'), /entryPoints: \['src\/cli\/hostBundle\.ts'\], outfile: 'dist\/host\.js'/);
});

test('contrib/ holds what the generator writes', () => {
  assert.equal(readFileSync(join(repoRoot, 'contrib', 'systemd', 'tokenrelay-agent.service'), 'utf8'), systemdUnit(CONTRIB_SYSTEMD));
  assert.equal(readFileSync(join(repoRoot, 'contrib', 'launchd', 'dev.tokenrelay.agent.plist'), 'utf8'), launchdPlist(CONTRIB_LAUNCHD));
});

test('the systemd unit parses and ExecStart runs `agent --stay`; paths with spaces and % survive quoting', () => {
  const unit = parseUnit(systemdUnit({ node: '/opt/my node/bin/node', cli: '/home/a%b/dist/cli.js' }));
  assert.deepEqual(words(unit.Service.ExecStart), ['/opt/my node/bin/node', '/home/a%b/dist/cli.js', 'agent', '--stay']);
  assert.equal(unit.Service.Restart, 'on-failure');
  assert.ok(Number(unit.Service.TimeoutStopSec) >= 120, 'a stop may wait for a refresh answer (hard timeout 120 s)');
  assert.equal(unit.Install.WantedBy, 'default.target');
  assert.ok(!('Environment' in unit.Service), 'plain node needs no ELECTRON_RUN_AS_NODE');
  assert.equal(parseUnit(systemdUnit({ ...CONTRIB_SYSTEMD, electron: true })).Service.Environment, 'ELECTRON_RUN_AS_NODE=1');
});

test('tokenrelay agent --print-systemd-unit: this installation\'s node and CLI, and the command it names runs', async () => {
  const { cliJs } = await cliBundle();
  const printed = await runChild(process.execPath, [cliJs, 'agent', '--print-systemd-unit']);
  assert.equal(printed.code, 0, printed.stderr);
  const exec = words(parseUnit(printed.stdout).Service.ExecStart);
  assert.deepEqual(exec, [process.execPath, cliJs, 'agent', '--stay']);
  // The command as the unit runs it, asked for its help: the agent command exists in this build.
  const help = await runChild(exec[0], [...exec.slice(1), '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--stay {2,}never exit when idle/);
  const analyze = spawnSync('systemd-analyze', ['--version']);
  if (analyze.status === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'tokenrelay-unit-'));
    try {
      writeFileSync(join(dir, 'tokenrelay-agent.service'), printed.stdout);
      const verify = spawnSync('systemd-analyze', ['verify', join(dir, 'tokenrelay-agent.service')], { encoding: 'utf8' });
      assert.equal(verify.status, 0, verify.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('the launchd plist runs `agent --stay`, restarts it only after a failure, and escapes its paths', async () => {
  const plist = launchdPlist({ node: '/usr/local/bin/node', cli: '/Users/a&b/<x>/cli.js', logFile: '/Users/a&b/Library/Logs/tokenrelay-agent.log' });
  assert.deepEqual(programArguments(plist), ['/usr/local/bin/node', '/Users/a&b/<x>/cli.js', 'agent', '--stay']);
  assert.match(plist, /<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/);
  assert.match(plist, /<key>Label<\/key>\s*<string>dev\.tokenrelay\.agent<\/string>/);
  const { cliJs } = await cliBundle();
  const printed = await runChild(process.execPath, [cliJs, 'agent', '--print-launchd-plist']);
  assert.equal(printed.code, 0, printed.stderr);
  assert.deepEqual(programArguments(printed.stdout), [process.execPath, cliJs, 'agent', '--stay']);
  // Well-formed where a plist parser is at hand (python's plistlib reads Apple's format).
  if (spawnSync('python3', ['--version']).status === 0) {
    const python = spawnSync('python3', ['-c', 'import plistlib,sys; print(plistlib.loads(sys.stdin.buffer.read())["ProgramArguments"][1:])'], { input: plist, encoding: 'utf8' });
    assert.equal(python.stdout.trim(), "['/Users/a&b/<x>/cli.js', 'agent', '--stay']", python.stderr);
  }
});
