// Failpoints, as etcd's gofail: the fault matrix (test/cli/faultMatrix.test.ts) kills, freezes or
// interrupts the real one-shot CLI and the real agent at a step of the refresh protocol, which
// only a hook inside the process can time. They are compiled in only when the bundle defines
// TOKENRELAY_FAILPOINTS true (test/cli/support.ts, faultableCliBundle); esbuild.mjs defines it false,
// so the shipped dist/host.js contains neither this code nor the variable it reads. From source
// (tsx) the constant is undefined, hence `typeof`: off, and no ReferenceError.
//
// TOKENRELAY_FAILPOINT="<step>:<kill|stop|int|term|hup>" acts the first time the step is reached, after
// appending "<step> <pid>" to the file TOKENRELAY_FAILPOINT_FILE names (the test waits for that line).
import { appendFileSync } from 'node:fs';
import type { BrokerHooks, ProtocolStep } from '../core/broker.ts';

declare const TOKENRELAY_FAILPOINTS: boolean | undefined;

const SIGNALS = { kill: 'SIGKILL', stop: 'SIGSTOP', int: 'SIGINT', term: 'SIGTERM', hup: 'SIGHUP' } as const;

export function failpointHooks(env: NodeJS.ProcessEnv): BrokerHooks | undefined {
  if (typeof TOKENRELAY_FAILPOINTS === 'undefined' || !TOKENRELAY_FAILPOINTS) return undefined;
  const [step, action] = (env.TOKENRELAY_FAILPOINT ?? '').split(':') as [ProtocolStep, keyof typeof SIGNALS];
  const file = env.TOKENRELAY_FAILPOINT_FILE;
  if (!step || !file || !Object.hasOwn(SIGNALS, action)) return undefined;
  let fired = false;
  return {
    at(reached) {
      if (reached !== step || fired) return;
      fired = true;
      appendFileSync(file, `${step} ${process.pid}\n`);
      // SIGKILL and SIGSTOP take effect before kill() returns; SIGINT, SIGTERM and SIGHUP reach the process's own handler.
      process.kill(process.pid, SIGNALS[action]);
    },
  };
}
