// The one-shot host's log: warnings and errors on stderr, prefixed with the program name (stdout
// carries only the command's answer). TOKENRELAY_LOG=info|debug|trace shows more. Callers wrap it in
// redactingLogger, the one redaction path.
import type { Logger } from '../../core/types.ts';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

export function stderrLogger(env: NodeJS.ProcessEnv): Logger {
  const wanted = LEVELS.indexOf((env.TOKENRELAY_LOG ?? 'warn') as (typeof LEVELS)[number]);
  const from = wanted < 0 ? LEVELS.indexOf('warn') : wanted;
  const line = (level: number) => (message: string) => {
    if (level >= from) process.stderr.write(`tokenrelay: ${LEVELS[level]}: ${message}\n`);
  };
  return { trace: line(0), debug: line(1), info: line(2), warn: line(3), error: line(4) };
}
