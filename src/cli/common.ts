// Shared CLI plumbing: errors that carry an exit code, argument parsing with usage errors, output.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT } from '../ipc/tokenProtocol.ts';

export const PROG = 'tokenrelay';

/** An error the CLI reports as one line on stderr and turns into its exit code. */
export class CliError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

export function usageError(message: string, command?: string): CliError {
  const help = command ? `${PROG} ${command} --help` : `${PROG} --help`;
  return new CliError(EXIT.usage, `${message}${/[.?!]$/.test(message) ? '' : '.'} Run "${help}" for usage.`);
}

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with `--help`, strict options and usage errors that name the command. */
export function parse<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
  } catch (err) {
    throw usageError((err as Error).message.replace(/\.$/, ''), command);
  }
}

export function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.write(text)) stream.once('drain', resolve);
    else resolve();
  });
}

export const out = (text: string) => write(process.stdout, text);

export function printHelp(text: string): number {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return EXIT.ok;
}

/** Reads stdin to EOF (or to the first blank line when `untilBlankLine`), bounded in size. */
export function readStdin(untilBlankLine = false, maxBytes = 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const stdin = process.stdin;
    const finish = () => {
      stdin.off('data', onData);
      stdin.pause();
      stdin.destroy();
      resolve(text);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.length > maxBytes) {
        stdin.destroy();
        reject(new CliError(EXIT.usage, `Standard input is larger than ${maxBytes} bytes.`));
      } else if (untilBlankLine && /(^|\n)\r?\n/.test(text)) {
        text = text.slice(0, text.search(/(^|\n)\r?\n/) + 1);
        finish();
      }
    };
    stdin.on('data', onData);
    stdin.once('end', finish);
    stdin.once('error', (err) => reject(new CliError(EXIT.error, `Could not read standard input (${err.message}).`)));
  });
}

export function parseSeconds(value: string | undefined, flag: string, command: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw usageError(`${flag} needs a number of seconds, got "${value}"`, command);
  return n;
}
