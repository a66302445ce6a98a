// tokenrelay fetch: one HTTP request with the window's token; on 401 the token is reported as
// rejected and the request retried exactly once with the replacement.
import { readFileSync } from 'node:fs';
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { redactor } from '../../core/redact.ts';
import { CliError, PROG, parse, printHelp, readStdin, usageError, write, type Command, parseResource } from '../common.ts';
import { call } from '../connection.ts';
import { isLoopbackHost } from '../../oauth/loopbackHost.ts';
import { parseTargetUrl } from '../targetUrl.ts';

const help = `Usage: ${PROG} fetch URL [-X METHOD] [-H 'Name: value']... [-d DATA] [-L | --location-trusted] [--resource URL]

Sends one HTTP request with "Authorization: Bearer <current token>" and writes the response body
to standard output (on a terminal, with a final newline if the body has none). When the server answers 401, the token is reported as rejected (the window
refreshes it unless another process already did) and the request is retried exactly once. A 401
from an origin that never received the token is not reported.

Options:
  -X, --request METHOD   HTTP method (default GET, or POST with --data)
  -H, --header 'K: V'    add a request header (repeatable); Authorization is set by tokenrelay
  -d, --data DATA        request body; @FILE reads a file, @- reads standard input
                         (default content type: application/x-www-form-urlencoded)
  -L, --location         follow redirects, stricter than curl: the token, every -H header and the
                         body go only to the original origin; a redirect elsewhere gets none
                         of them, one that would need the body re-sent (307/308) or that
                         leads from https to plain http is refused
      --location-trusted like -L, but send the token, the headers and the body to every
                         origin redirected to, and follow https to http (plain http to a
                         host other than localhost still needs --allow-http)
      --resource URL     get the token for this API (RFC 8707 resource indicator; default:
                         tokenrelay.resource)
  -i, --include          write the status line and response headers to standard error
      --allow-http       allow plain http:// to a host other than localhost (sends the token
                         unencrypted)
  -h, --help             show this help

Exit codes: 0 HTTP status below 400, 1 HTTP status 400 or more (body still written) or the
request failed, 2 usage, 3 not signed in, 4 no Token Relay window of this user, 5 identity
provider unreachable, 6 a Token Relay directory cannot be written.`;

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
      'location-trusted': { type: 'boolean' },
      include: { type: 'boolean', short: 'i' },
      'allow-http': { type: 'boolean' },
      resource: { type: 'string' },
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

    const request: Request = {
      url, method, headers, body,
      follow: values['location-trusted'] ? 'trusted' : values.location ? 'same-origin' : 'never',
      allowHttp: values['allow-http'] === true,
    };
    const resource = parseResource(values.resource, 'fetch');
    let token = (await call('token', { resource })).accessToken;
    let { res, at, tokenSent } = await send(request, token);
    // The server says the token is no good, whatever our clock thinks: report it, retry once. A 401
    // from a redirect target that never saw the token says nothing about it.
    if (res.status === 401 && tokenSent) {
      await res.body?.cancel();
      try {
        token = (await call('token', { rejected: token, resource })).accessToken;
      } catch (err) {
        throw err instanceof CliError ? new CliError(err.exitCode, `HTTP 401 from ${at.origin}${at.pathname}. ${err.message}`) : err;
      }
      ({ res, at, tokenSent } = await send(request, token));
    }
    if (values.include) {
      const lines = [`HTTP ${res.status} ${res.statusText}`, ...[...res.headers].map(([k, v]) => `${k}: ${v}`)];
      await write(process.stderr, `${redactor.redact(lines.join('\n'))}\n\n`); // a server may echo the token in a header
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
      const hint = res.status === 401 && !tokenSent ? `; that origin never received the token, which goes only to ${url.origin} (see --location-trusted)`
        : res.status === 401 ? ' after one refresh; the API may need other scopes or audience (see --scopes in tokenrelay token --help)'
          : res.status === 403 ? '; the account may lack access or scopes' : '';
      // The status text is the server's words: redacted like everything else a server says.
      redactor.remember(token);
      await write(process.stderr, `${PROG}: HTTP ${res.status} ${redactor.redact(res.statusText)} from ${at.origin}${at.pathname}${hint}\n`);
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

interface Request {
  url: URL;
  method: string;
  headers: Headers;
  body: Buffer | undefined;
  /** `same-origin` (-L): credentials, headers and body only to the original origin, (stricter than curl, which sends -H headers everywhere). */
  follow: 'never' | 'same-origin' | 'trusted';
  allowHttp: boolean;
}

/** The final response, where it came from, and whether that hop carried the token. */
async function send(r: Request, token: string): Promise<{ res: Response; at: URL; tokenSent: boolean }> {
  let current = r.url;
  let method = r.method;
  let body = r.body;
  for (let hop = 0; ; hop++) {
    // Everything the user gave goes to the original origin only, unless --location-trusted.
    const trusted = r.follow === 'trusted' || current.origin === r.url.origin;
    const h = trusted ? new Headers(r.headers) : new Headers();
    if (trusted) h.set('authorization', `Bearer ${token}`);
    if (r.body && !body) h.delete('content-type'); // the body was dropped (303, or 301/302 after POST)
    let res: Response;
    try {
      res = await fetch(current, { method, headers: h, body, redirect: 'manual' });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(EXIT.error, `Could not reach ${current.origin} (${cause?.code ?? cause?.message ?? (err as Error).message}). Check the URL and the network.`);
    }
    const location = res.headers.get('location');
    if (r.follow === 'never' || res.status < 300 || res.status >= 400 || !location) return { res, at: current, tokenSent: trusted };
    if (hop >= 10) throw new CliError(EXIT.error, `More than 10 redirects from ${r.url.origin}${r.url.pathname}.`);
    await res.body?.cancel();
    const next = nextHop(current, location);
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      method = method === 'HEAD' ? 'HEAD' : 'GET';
      body = undefined;
    }
    checkHop(r, current, next, body !== undefined, res.status);
    current = next;
  }
}

function nextHop(from: URL, location: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new CliError(EXIT.error, `${from.origin} redirected to "${redactor.redact(location)}", which is not a URL.`);
  }
  if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new CliError(EXIT.error, `${from.origin} redirected to a ${next.protocol} URL; only http(s) is followed.`);
  return next;
}

/** Refuses the redirects curl's -L rules make unsafe: a downgrade to plain http, a body for another origin. */
function checkHop(r: Request, from: URL, to: URL, withBody: boolean, status: number): void {
  const where = `${from.origin} redirected (${status}) to ${to.origin}`;
  if (r.follow === 'trusted') {
    if (to.protocol === 'http:' && !isLoopbackHost(to.hostname) && !r.allowHttp) {
      throw new CliError(EXIT.error, `${where}: --location-trusted would send the token over plain http. Pass --allow-http as well to accept that.`);
    }
    return;
  }
  if (from.protocol === 'https:' && to.protocol === 'http:') {
    throw new CliError(EXIT.error, `${where}, from https to plain http: not followed. Use the https URL, or pass --location-trusted to follow it.`);
  }
  if (withBody && to.origin !== r.url.origin) {
    throw new CliError(EXIT.error, `${where} and asks for the request body again: it is not sent to another origin. Call ${to.origin} directly, or pass --location-trusted to send it.`);
  }
}
