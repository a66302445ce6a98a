// The test side of farm.ts: forks the farm (so this process, which hosts the IdP and windows, keeps
// answering while it starts the CLIs), waits until it is ready, and returns a runner for one order.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { FarmOrder, FarmProgress, FarmReport, FarmResult } from './farm.ts';

/** Forked and ready before the timed moment; the runner sends one order and stops the farm once answered. */
export async function startFarm(onProgress?: (answered: number) => void): Promise<(order: FarmOrder) => Promise<FarmResult[]>> {
  const farm = fork(join(__dirname, 'farm.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((r) => farm.once('message', r));
  return (order) => {
    const report = new Promise<FarmReport>((resolve, reject) => {
      farm.on('message', (m: FarmReport | FarmProgress) => {
        if ('results' in m) resolve(m);
        else onProgress?.(m.answered);
      });
      farm.once('exit', (code) => reject(new Error(`the farm exited ${code}`)));
    });
    farm.send(order);
    return report.then((r) => r.results).finally(() => farm.kill());
  };
}
