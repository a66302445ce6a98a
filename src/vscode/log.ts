// The "Token Relay" log channel as the core's Logger. Every line passes the redactor, so no token
// reaches the channel whatever a caller logs.
import type * as vscode from 'vscode';
import type { Logger } from '../core/types.ts';
import { redactingLogger } from '../core/redact.ts';

export type LogChannelLike = Pick<vscode.LogOutputChannel, 'trace' | 'debug' | 'info' | 'warn' | 'error'>;

export function channelLogger(channel: LogChannelLike): Logger {
  // A closed channel throws ("Channel has been closed"); background work finishing after
  // deactivation must not turn a log line into an error.
  const safe = (write: (m: string) => void) => (m: string) => {
    try { write(m); } catch { /* channel closed */ }
  };
  return redactingLogger({
    trace: safe((m) => channel.trace(m)),
    debug: safe((m) => channel.debug(m)),
    info: safe((m) => channel.info(m)),
    warn: safe((m) => channel.warn(m)),
    error: safe((m) => channel.error(m)),
  });
}
