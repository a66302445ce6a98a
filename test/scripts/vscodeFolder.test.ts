// The .vscode/ folder: "Run Extension" builds with the watch task first, whose problem matcher
// understands what esbuild really prints; launch configurations for the tests; recommendations;
// and none of it ends up in the VSIX, while git keeps it.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const json = (name: string) => JSON.parse(readFileSync(join(repo, '.vscode', name), 'utf8'));
const launch = json('launch.json') as { configurations: Record<string, unknown>[] };
const tasks = json('tasks.json') as { tasks: Record<string, any>[] };
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** What esbuild's watch mode prints for a file with a syntax error, then after the fix (the real output). */
async function esbuildWatchOutput(): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'tokenrelay-watch-'));
  mkdirSync(join(dir, 'src'));
  const file = join(dir, 'src', 'broken.ts');
  writeFileSync(file, 'export const a = 1;\n');
  const script = `const { context } = require(${JSON.stringify(require.resolve('esbuild'))});
context({ entryPoints: ['src/broken.ts'], outfile: 'out/x.js', bundle: true, logLevel: 'info' }).then((c) => c.watch());`;
  const child = spawn(process.execPath, ['-e', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const seen = (re: RegExp) => new Promise<void>((resolve) => {
    const check = () => { if (re.test(output)) resolve(); };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    check();
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
  try {
    await seen(/watching for changes/);
    writeFileSync(file, 'export const a: number = ;\n');
    await seen(/1 error\n(.*\n)*\[watch\] build finished/);
  } finally {
    child.kill();
  }
  return output;
}

/** VS Code's multi-line matching: consecutive lines, one per pattern. */
function problems(matcher: { pattern: { regexp: string; [k: string]: unknown }[] }, output: string) {
  const lines = output.split('\n');
  const found: Record<string, string>[] = [];
  for (let i = 0; i + matcher.pattern.length <= lines.length; i++) {
    const hits = matcher.pattern.map((p, k) => new RegExp(p.regexp).exec(lines[i + k]));
    if (hits.some((h) => !h)) continue;
    const problem: Record<string, string> = {};
    matcher.pattern.forEach((p, k) => {
      for (const field of ['severity', 'message', 'file', 'line', 'column']) if (typeof p[field] === 'number') problem[field] = hits[k]![p[field] as number];
    });
    found.push(problem);
  }
  return found;
}

describe('.vscode/', () => {
  test('"Run Extension" runs the built dist in an extension host, after the watch build', () => {
    const run = launch.configurations.find((c) => c.name === 'Run Extension')!;
    assert.ok(run, 'a "Run Extension" configuration');
    assert.equal(run.type, 'extensionHost');
    assert.deepEqual(run.args, ['--extensionDevelopmentPath=${workspaceFolder}']);
    assert.deepEqual(run.outFiles, ['${workspaceFolder}/dist/**/*.js']);
    assert.equal(pkg.main, './dist/extension.js');
    const task = tasks.tasks.find((t) => t.label === run.preLaunchTask)!;
    assert.ok(task, `preLaunchTask "${run.preLaunchTask}" is a task in tasks.json`);
    assert.deepEqual([task.type, task.script, task.isBackground], ['npm', 'watch', true]);
    assert.match(pkg.scripts.watch, /esbuild\.mjs --watch/);
  });

  test('the watch task\'s problem matcher reads esbuild\'s real output: the error\'s file and position, and when a build ends', async () => {
    const matcher = tasks.tasks.find((t) => t.script === 'watch')!.problemMatcher;
    const output = await esbuildWatchOutput();
    assert.deepEqual(problems(matcher, output), [{ severity: 'ERROR', message: 'Unexpected ";"', file: 'src/broken.ts', line: '1', column: '25' }]);
    const lines = output.split('\n');
    assert.ok(matcher.background.activeOnStart, 'the first build has no "build started" line');
    assert.ok(lines.some((l) => new RegExp(matcher.background.beginsPattern).test(l)), 'a rebuild begins');
    assert.equal(lines.filter((l) => new RegExp(matcher.background.endsPattern).test(l)).length, 2, 'the first build and the rebuild end');
  });

  test('launch configurations for the tests: the current file, and the suites through test/run.mjs', () => {
    const file = launch.configurations.find((c) => c.program === '${file}')!;
    assert.deepEqual(file.runtimeArgs, ['--import', 'tsx', '--test', '--test-reporter=spec']);
    const suites = launch.configurations.filter((c) => c.program === '${workspaceFolder}/test/run.mjs').map((c) => c.args);
    assert.deepEqual(suites, [['--unit'], ['--e2e']]);
    for (const c of launch.configurations) assert.ok(c.name && c.type && c.request === 'launch', JSON.stringify(c));
  });

  test('extensions.json recommends extension ids', () => {
    const { recommendations } = json('extensions.json') as { recommendations: string[] };
    assert.ok(recommendations.length > 0);
    for (const id of recommendations) assert.match(id, /^[a-z0-9-]+\.[a-z0-9-]+$/i);
  });

  test('git keeps .vscode/; the VSIX leaves it out', () => {
    for (const name of ['launch.json', 'tasks.json', 'extensions.json', 'settings.json']) {
      assert.equal(spawnSync('git', ['check-ignore', '-q', `.vscode/${name}`], { cwd: repo }).status, 1, `.vscode/${name} is not git-ignored`);
    }
    const files = execFileSync(join(repo, 'node_modules', '.bin', 'vsce'), ['ls', '--no-dependencies'], { cwd: repo, encoding: 'utf8' }).split('\n');
    assert.ok(files.includes('package.json'), files.join(', '));
    assert.deepEqual(files.filter((f) => f.startsWith('.vscode')), []);
  });
});
