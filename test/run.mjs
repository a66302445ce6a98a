// Runs every test file (or a subset) with node's built-in runner and the tsx loader.
// Node 20 has no glob support in --test, so the files are collected here.
import { readdirSync, statSync } from 'node:fs';
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
const result = spawnSync(process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit' });
process.exit(result.status ?? 1);
