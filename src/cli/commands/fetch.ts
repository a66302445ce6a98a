// tokenrelay fetch: one HTTP request with the window's token; on 401 the token is reported as
// rejected and the request retried exactly once with the replacement.
import { readFileSync } from 'node:fs';
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, parse, printHelp, readStdin, usageError, write, type Command } from '../common.ts';
import { call } from '../connection.ts';
import { parseTargetUrl } from '../targetUrl.ts';

const help = `Usage: ${PROG} fetch URL [-X METHOD] [-H 'Name: value']... [-d DATA] [-L]

Sends one HTTP request with "Authorization: Bearer <current token>" and writes the response body
to standard output (on a terminal, with a final newline if the body has none). When the server answers 401, the token is reported as rejected (the window
refreshes it unless another process already did) and the request is retried exactly once.

Options:
  -X, --request METHOD   HTTP method (default GET, or POST with --data)
  -H, --header 'K: V'    add a request header (repeatable); Authorization is set by tokenrelay
  -d, --data DATA        request body; @FILE reads a file, @- reads standard input
                         (default content type: application/x-www-form-urlencoded)
  -L, --location         follow redirects (the token is only sent to the original origin)
  -i, --include          write the status line and response headers to standard error
      --allow-http       allow plain http:// to a host other than localhost (sends the token
                         unencrypted)
  -h, --help             show this help

Exit codes: 0 HTTP status below 400, 1 HTTP status 400 or more (body still written) or the
request failed, 2 usage, 3 not signed in, 4 not in a VS Code terminal, 5 identity provider
unreachable, 6 a Token Relay directory cannot be written.`;

export const fetchCommand: Command = {
  name: 'fetch',
  summary: 'call an API with the token; refresh and retry once on 401',
  help,
  async run(argv) {
    const { values, positionals } = parse('fetch', argv, {
      request: { type: 'string', short: 'X' },
      header: { type: 'string', short: 'H', multiple: true },
      data: { type: 'string', short: 'd' },
      location: { type: 'boolean', short: 'L' },
      include: { type: 'boolean', short: 'i' },
      'allow-http': { type: 'boolean' },
    }, true);
    if (values.help) return printHelp(help);
    if (positionals.length !== 1) throw usageError(positionals.length ? 'fetch takes exactly one URL' : 'fetch needs a URL', 'fetch');
    const url = parseTargetUrl(positionals[0], 'fetch', values['allow-http'] === true);
    const headers = new Headers();
    for (const line of values.header ?? []) {
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon).trim() : '';
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw usageError(`header "${line}" is not of the form 'Name: value'`, 'fetch');
      if (name.toLowerCase() === 'authorization') throw usageError('tokenrelay sets the Authorization header itself; remove -H Authorization', 'fetch');
      try {
        headers.append(name, line.slice(colon + 1).trim());
      } catch {
        throw usageError(`header "${name}" has an invalid value`, 'fetch');
      }
    }
    let body: Buffer | undefined;
    if (values.data !== undefined) {
      body = values.data === '@-' ? Buffer.from(await readStdin(false, 64 * 1024 * 1024))
        : values.data.startsWith('@') ? readData(values.data.slice(1))
          : Buffer.from(values.data);
      if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
    }
    const method = (values.request ?? (body ? 'POST' : 'GET')).toUpperCase();
    if (!/^[A-Z]+$/.test(method)) throw usageError(`"${values.request}" is not an HTTP method`, 'fetch');
    if (body && (method === 'GET' || method === 'HEAD')) throw usageError(`a ${method} request cannot carry --data; add -X POST`, 'fetch');

    let token = (await call('token', {})).accessToken;
    let res = await send(url, method, headers, body, token, values.location === true);
    if (res.status === 401) {
      await res.body?.cancel();
      // The server says the token is no good, whatever our clock thinks: report it, retry once.
      token = (await call('token', { rejected: token })).accessToken;
      res = await send(url, method, headers, body, token, values.location === true);
    }
    if (values.include) {
      const lines = [`HTTP ${res.status} ${res.statusText}`, ...[...res.headers].map(([k, v]) => `${k}: ${v}`)];
      await write(process.stderr, `${lines.join('\n')}\n\n`);
    }
    let last: number | undefined;
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        if (chunk.length) last = chunk[chunk.length - 1];
        await write(process.stdout, chunk as unknown as string);
      }
    }
    // On a terminal, the prompt must not join the body; piped or redirected, the bytes stay as sent.
    if (process.stdout.isTTY && last !== undefined && last !== 0x0a) await write(process.stdout, '\n');
    if (res.status >= 400) {
      const hint = res.status === 401 ? ' after one refresh; the API may need other scopes or audience (see --scopes in tokenrelay token --help)'
        : res.status === 403 ? '; the account may lack access or scopes' : '';
      await write(process.stderr, `${PROG}: HTTP ${res.status} ${res.statusText} from ${url.origin}${url.pathname}${hint}\n`);
      return EXIT.error;
    }
    return EXIT.ok;
  },
};

function readData(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw usageError(`cannot read --data file "${path}" (${(err as NodeJS.ErrnoException).code})`, 'fetch');
  }
}

async function send(url: URL, method: string, headers: Headers, body: Buffer | undefined, token: string, follow: boolean): Promise<Response> {
  let current = url;
  let currentMethod = method;
  let currentBody = body;
  for (let hop = 0; ; hop++) {
    const h = new Headers(headers);
    if (current.origin === url.origin) h.set('authorization', `Bearer ${token}`);
    let res: Response;
    try {
      res = await fetch(current, { method: currentMethod, headers: h, body: currentBody, redirect: 'manual' });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(EXIT.error, `Could not reach ${current.origin} (${cause?.code ?? cause?.message ?? (err as Error).message}). Check the URL and the network.`);
    }
    const location = res.headers.get('location');
    if (!follow || res.status < 300 || res.status >= 400 || !location) return res;
    if (hop >= 10) throw new CliError(EXIT.error, `More than 10 redirects from ${url.origin}${url.pathname}.`);
    await res.body?.cancel();
    current = new URL(location, current);
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && currentMethod === 'POST')) {
      currentMethod = currentMethod === 'HEAD' ? 'HEAD' : 'GET';
      currentBody = undefined;
      h.delete('content-type');
    }
  }
}
