// A separate process that starts the storm's CLI processes (and samples the process table), so
// the test process - which hosts the IdP and the window under test - is not the one stuck in
// hundreds of fork/exec calls while 200 node processes compete for the CPU.
import { spawn } from 'node:child_process';

export interface FarmOrder {
  at: number;
  count: number;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  sampleProcessTableMs?: number;
}

export interface FarmResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Sent every 25 answered calls while the storm runs. */
export interface FarmProgress {
  answered: number;
}

export interface FarmReport {
  results: FarmResult[];
  processTable: string[];
}

function run(order: FarmOrder): Promise<FarmResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(order.command, order.args, { env: order.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', (err) => { stderr += String(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: performance.now() - started }); });
  });
}

function ps(): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('ps', ['-eo', 'args'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.on('close', () => resolve(out));
    child.on('error', () => resolve(''));
  });
}

process.on('message', async (order: FarmOrder) => {
  await new Promise((r) => setTimeout(r, Math.max(0, order.at - Date.now())));
  const processTable: string[] = [];
  let sampling = order.sampleProcessTableMs !== undefined;
  const sampler = (async () => {
    while (sampling) {
      processTable.push(await ps());
      await new Promise((r) => setTimeout(r, order.sampleProcessTableMs));
    }
  })();
  let answered = 0;
  const results = await Promise.all(Array.from({ length: order.count }, () => run(order).then((r) => {
    if (++answered % 25 === 0 && answered < order.count) process.send!({ answered } satisfies FarmProgress);
    return r;
  })));
  sampling = false;
  await sampler;
  process.send!({ results, processTable } satisfies FarmReport, () => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
process.send!('ready');
