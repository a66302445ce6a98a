// Runs every test file (or a subset) with node's built-in runner and the tsx loader.
// Node 20 has no glob support in --test, so the files are collected here.
//
//   node test/run.mjs          unit, multi-process and CLI tests, then the e2e matrix below
//   node test/run.mjs --unit   without the e2e suite
//   node test/run.mjs --e2e    only the e2e matrix
//
// The e2e suite runs once per VS Code version of E2E_MATRIX, each run in its own `node --test` with
// TOKENRELAY_CODE_SERVER (and TOKENRELAY_E2E_SCENARIOS) set; every e2e test name starts with its
// VS Code version. TOKENRELAY_CODE_SERVER=<version> in the environment runs only that version, with
// every e2e file and scenario (TOKENRELAY_E2E_SCENARIOS still narrows it).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const root = new URL('.', import.meta.url).pathname;
const wantUnit = !process.argv.includes('--e2e');
const wantE2e = !process.argv.includes('--unit');

// Today's VS Code gets every scenario; the oldest one engines.vscode (^1.100.0) allows gets the
// install, sign-in, terminal and device-code scenarios plus the smoke test, and the `npm start`
// demo test (the demo serves code-server 4.100.3). Keeps `npm test` well under 30 minutes.
const E2E_MATRIX = [
  { codeServer: '4.139.1', files: ['smoke', 'scenarios'] },
  { codeServer: '4.100.3', files: ['smoke', 'scenarios', 'demo'], scenarios: 'a,b,c,h' },
];

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const all = collect(root).sort().map((f) => relative(process.cwd(), f));
const isE2e = (f) => f.includes('/e2e/');
const unitFiles = wantUnit ? all.filter((f) => !isE2e(f)) : [];
const e2eFiles = wantE2e ? all.filter(isE2e) : [];
if (unitFiles.length + e2eFiles.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const chosen = process.env.TOKENRELAY_CODE_SERVER;
const matrix = !e2eFiles.length ? []
  : chosen ? [{ codeServer: chosen, files: undefined, scenarios: process.env.TOKENRELAY_E2E_SCENARIOS }]
  : E2E_MATRIX;
const baseName = (f) => f.split('/').pop().replace(/\.test\.ts$/, '');
const filesOf = (entry) => (entry.files ? e2eFiles.filter((f) => entry.files.includes(baseName(f))) : e2eFiles);

if (unitFiles.some((f) => f.includes('/cli/')) || e2eFiles.length) {
  // System packages first (apt-get update + install of only the missing ones): a fresh machine needs them.
  const apt = spawnSync('bash', [join(root, '..', 'scripts', 'ensure-system-packages.sh')], { stdio: 'inherit' });
  if (apt.status !== 0) {
    console.error('test setup FAILED: system packages could not be installed (see above)');
    process.exit(1);
  }
}

// Global setup for the e2e suite: the browser and every code-server of the matrix are requirements,
// not options. A missing one fails the run here (ensureCodeServerRuntime installs it, and Node 24
// where it needs it, on a fresh machine).
const vscodeOf = {};
if (matrix.length) {
  const { ensureCodeServerRuntime } = await import('../scripts/setup-code-server.mjs');
  const { CHROMIUM } = await import('../scripts/chromium.mjs');
  try {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (bash scripts/ensure-system-packages.sh)`);
    }
    for (const entry of matrix) {
      const rt = await ensureCodeServerRuntime(entry.codeServer);
      vscodeOf[entry.codeServer] = rt.vscodeVersion;
      console.error(`e2e setup: code-server ${rt.version} (VS Code ${rt.vscodeVersion}) at ${rt.entry}, run with ${rt.node}`);
    }
    console.error(`e2e setup: browser ${CHROMIUM}`);
  } catch (err) {
    console.error(`e2e setup FAILED: ${err.message}`);
    process.exit(1);
  }
}

/** One `node --test` run; echoes its output and returns the counts from the spec reporter's summary. */
function runTests(files, extraEnv) {
  const started = Date.now();
  const child = spawn(process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...extraEnv } });
  let tail = '';
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    tail = (tail + chunk.toString()).slice(-64 * 1024);
  });
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      const count = (name) => Number([...tail.matchAll(new RegExp(`^ℹ ${name} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? NaN);
      resolve({ code: code ?? 1, signal, passed: count('pass'), failed: count('fail'), seconds: (Date.now() - started) / 1000 });
    });
  });
}

const minutes = (s) => `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
const runs = [];
if (unitFiles.length) runs.push({ label: 'unit, multi-process and CLI tests', files: unitFiles, env: {} });
for (const entry of matrix) {
  const env = { TOKENRELAY_CODE_SERVER: entry.codeServer };
  if (entry.scenarios) env.TOKENRELAY_E2E_SCENARIOS = entry.scenarios;
  const scope = entry.scenarios ? `scenarios ${entry.scenarios}` : 'every scenario';
  runs.push({ label: `e2e on VS Code ${vscodeOf[entry.codeServer]} (code-server ${entry.codeServer}), ${scope}`, files: filesOf(entry), env });
}

const results = [];
for (const run of runs) {
  if (!run.files.length) continue;
  console.error(`\n=== ${run.label}: ${run.files.join(' ')}`);
  results.push({ ...run, ...(await runTests(run.files, run.env)) });
}

console.log('\nsummary:');
let passed = 0;
let failed = 0;
for (const r of results) {
  const counted = Number.isFinite(r.passed) && Number.isFinite(r.failed);
  const ok = r.code === 0 && counted;
  passed += counted ? r.passed : 0;
  // A run that crashed before its summary counts as one failure.
  failed += counted ? r.failed + (r.code !== 0 && r.failed === 0 ? 1 : 0) : 1;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${r.label}: ${counted ? `${r.passed} passed, ${r.failed} failed` : `no summary (exit ${r.code ?? r.signal})`} in ${minutes(r.seconds)}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
