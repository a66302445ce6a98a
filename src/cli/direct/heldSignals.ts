// Ctrl+C, SIGTERM or a closed terminal (SIGHUP) while the one-shot host may be refreshing: a
// refresh token that was sent has been spent, and only this process will ever see its answer. So
// the first signal is held until the request is answered and the new generation is durable (bounded
// by the refresh's own hard timeout), then the process exits with the shell's status for that
// signal (128 + its number: 130 for Ctrl+C). A second signal exits at once, after saying what is at stake.
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface HeldSignals {
  /** Stops holding; after a held signal, exits with the status the shell gives that signal. */
  release(): void;
}

export function holdSignals(): HeldSignals {
  let held: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (held) {
      process.stderr.write('tokenrelay: quitting during a refresh; if its answer is lost, other processes may have to sign in again.\n');
      release();
      process.exit(statusOf(signal));
    }
    held = signal;
    process.stderr.write('tokenrelay: finishing the refresh in progress so the session is kept; interrupt again to quit at once.\n');
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  const release = () => { for (const s of SIGNALS) process.off(s, onSignal); };
  return {
    release() {
      release();
      if (held) process.exit(statusOf(held));
    },
  };
}

const statusOf = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 2);
