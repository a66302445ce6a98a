// Runs every test file (or a subset) with node's built-in runner and the tsx loader.
// Node 20 has no glob support in --test, so the files are collected here.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('.', import.meta.url).pathname;
const only = process.argv.includes('--unit') ? (f) => !f.includes('/e2e/')
  : process.argv.includes('--e2e') ? (f) => f.includes('/e2e/') : () => true;

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = collect(root).filter(only).sort().map((f) => relative(process.cwd(), f));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Global setup for the e2e suite: the browser and code-server are requirements, not options.
// A missing one fails the run here (ensureCodeServer installs code-server on a fresh machine).
if (files.some((f) => f.includes('/e2e/') || f.includes('/cli/'))) {
  // System packages first (apt-get update + install of only the missing ones): a fresh machine needs them.
  const apt = spawnSync('bash', [join(root, '..', 'scripts', 'ensure-system-packages.sh')], { stdio: 'inherit' });
  if (apt.status !== 0) {
    console.error('test setup FAILED: system packages could not be installed (see above)');
    process.exit(1);
  }
}
if (files.some((f) => f.includes('/e2e/'))) {
  const { ensureCodeServer } = await import('../scripts/setup-code-server.mjs');
  const { CHROMIUM } = await import('../scripts/chromium.mjs');
  try {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (bash scripts/ensure-system-packages.sh)`);
    }
    console.error(`e2e setup: code-server at ${await ensureCodeServer()}, browser ${CHROMIUM}`);
  } catch (err) {
    console.error(`e2e setup FAILED: ${err.message}`);
    process.exit(1);
  }
}

const result = spawnSync(process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit' });
process.exit(result.status ?? 1);
