// Ctrl+C, SIGTERM or a closed terminal (SIGHUP) while a host may be refreshing: a refresh token
// that was sent has been spent, and only this process will ever see its answer. So the first signal
// is held until the request is answered and the new generation is durable (bounded by the
// refresh's own hard timeout). A second signal exits at once, after saying what is at stake.
// The one-shot CLI then exits with the shell's status for that signal (128 + its number: 130 for
// Ctrl+C); the agent starts its clean shutdown on the first signal instead (src/agent).
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface HeldSignals {
  /** Stops holding; after a held signal, exits with the status the shell gives that signal. */
  release(): void;
}

/**
 * Calls `first` on the first of SIGINT, SIGTERM or SIGHUP; on a second one, warns and exits at once
 * with that signal's shell status. Returns what stops listening.
 */
export function onShutdownSignals(first: (signal: NodeJS.Signals) => void): () => void {
  let seen = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (seen) {
      process.stderr.write('tokenrelay: quitting during a refresh; if its answer is lost, other processes may have to sign in again.\n');
      off();
      process.exit(statusOf(signal));
    }
    seen = true;
    first(signal);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  const off = () => { for (const s of SIGNALS) process.off(s, onSignal); };
  return off;
}

export function holdSignals(): HeldSignals {
  let held: NodeJS.Signals | undefined;
  const off = onShutdownSignals((signal) => {
    held = signal;
    process.stderr.write('tokenrelay: finishing the refresh in progress so the session is kept; interrupt again to quit at once.\n');
  });
  return {
    release() {
      off();
      if (held) process.exit(statusOf(held));
    },
  };
}

const statusOf = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 2);
