// A host's log on stderr, prefixed with the program name (stdout carries only the command's
// answer): the one-shot host shows warnings and errors, the agent (whose stderr is a journal or
// its log file) info too, with a timestamp. TOKENRELAY_LOG=info|debug|trace shows more. Callers
// wrap it in redactingLogger, the one redaction path.
import type { Logger } from '../../core/types.ts';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

export function stderrLogger(env: NodeJS.ProcessEnv, o: { level?: Level; timestamps?: boolean } = {}): Logger {
  const fallback = LEVELS.indexOf(o.level ?? 'warn');
  const wanted = LEVELS.indexOf((env.TOKENRELAY_LOG ?? '') as Level);
  const from = wanted < 0 ? fallback : wanted;
  const line = (level: number) => (message: string) => {
    if (level >= from) process.stderr.write(`${o.timestamps ? `${new Date().toISOString()} ` : ''}tokenrelay: ${LEVELS[level]}: ${message}\n`);
  };
  return { trace: line(0), debug: line(1), info: line(2), warn: line(3), error: line(4) };
}
