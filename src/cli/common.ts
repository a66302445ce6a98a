// Shared CLI plumbing: errors that carry an exit code, argument parsing with usage errors, output.
import { writeSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT, PROFILE_NAME } from '../ipc/tokenProtocol.ts';
import { resourceProblem } from '../core/audiences.ts';

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

/** The profile every request of this run names (`--profile`, else TOKENRELAY_PROFILE); undefined: the host's default. */
let chosenProfile: string | undefined;

export function profileOfRun(): string | undefined {
  return chosenProfile ?? (process.env.TOKENRELAY_PROFILE || undefined);
}

/**
 * parseArgs with `--help`, `--profile` (every command takes it), strict options and usage errors
 * that name the command.
 */
export function parse<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { profile: { type: 'string' }, ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
  } catch (err) {
    throw usageError((err as Error).message.replace(/\.$/, ''), command);
  }
  const profile = (parsed.values as { profile?: unknown }).profile;
  if (typeof profile === 'string') {
    if (!PROFILE_NAME.test(profile)) throw usageError(`--profile "${profile}" is not a profile name (letters, digits, ".", "_" or "-", at most 64)`, command);
    chosenProfile = profile;
  }
  return parsed;
}

/** Streams to stdout or stderr (fetch's body); `tokenrelay fetch … | head` ends quietly. */
export function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  if (stream === process.stdout) quietOnClosedPipe();
  return new Promise((resolve) => {
    if (!stream.write(text)) stream.once('drain', resolve);
    else resolve();
  });
}

let quiet = false;
function quietOnClosedPipe(): void {
  if (quiet) return;
  quiet = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  });
}

/**
 * Writes a command's whole answer (a token, a status) to fd 1 directly: creating process.stdout's
 * stream costs about a millisecond of every run. `tokenrelay token | head -c 12` closing the pipe
 * ends the run quietly; a non-blocking stdout that is full gets the rest through the stream.
 */
export async function out(text: string): Promise<void> {
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(1, bytes, done);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    if (code !== 'EAGAIN') throw err;
    await write(process.stdout, bytes.subarray(done).toString('utf8'));
  }
}

export function printHelp(text: string): number {
  void out(text.endsWith('\n') ? text : `${text}\n`);
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

/** --resource URL: an RFC 8707 resource indicator, checked here so a typo is a usage error, not an IdP refusal. */
export function parseResource(value: string | undefined, command: string): string | undefined {
  if (value === undefined) return undefined;
  const problem = resourceProblem(value.trim());
  if (problem) throw usageError(`--resource "${value.slice(0, 200)}" ${problem}; pass the API's resource indicator, e.g. --resource https://api.example.com`, command);
  return value.trim();
}
