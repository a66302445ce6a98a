// Turns an answer that is not MCP (a web page, a 404, broken JSON, a refused token) into one error
// that names the problem and the fix, before the SDK reports it as a parse failure. Only message
// POSTs are checked: the SDK itself handles the optional GET stream (405 = none) and DELETE. Every
// answer, the GET stream's events included, is held to the size cap of answerCap.ts.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError } from '../common.ts';
import { cappedEvents, readCappedText } from './answerCap.ts';
import type { FetchLike } from './bearerFetch.ts';

const CHECK_URL = 'Check the URL: it must be the server\'s Streamable HTTP MCP endpoint (often ending in /mcp); servers that only offer the older HTTP+SSE transport are not supported';
const MAX_DETAIL = 300;

export interface AnswerLimits {
  /** The most one JSON body or one SSE event may hold (answerCap.ts). */
  maxAnswerBytes: number;
  /** An SSE event past the cap was dropped: the requests of that POST (none for the GET stream) get `message` as their error. */
  unanswered(ids: (string | number)[], message: string): void;
}

export function checkedAnswers(inner: FetchLike, server: URL, limits: AnswerLimits): FetchLike {
  return async (input, init) => {
    const res = await inner(input, init);
    const method = (init?.method ?? 'GET').toUpperCase();
    const where = `${server.origin}${server.pathname}`;
    const tooLarge = (what: string) => `The MCP server at ${where} sent ${what} larger than ${formatMib(limits.maxAnswerBytes)} MiB, the most one answer may be (raise it with --max-answer-mib); it was dropped, and the request it answered gets this error instead. The session goes on.`;
    const eventCap = (ids: (string | number)[]) => (body: ReadableStream<Uint8Array>) => cappedEvents(body, limits.maxAnswerBytes, () => limits.unanswered(ids, tooLarge('an event')));
    if (method === 'GET' && res.ok && res.body && mediaType(res) === 'text/event-stream') return withBody(res, eventCap([])(res.body));
    if (method !== 'POST' || res.status === 202) return res;
    if (res.status >= 300 && res.status < 400) return redirect(res, new URL(input), where);
    if (!res.ok) throw new CliError(EXIT.error, await refusal(res, where, new Headers(init?.headers).has('mcp-session-id')));
    const type = mediaType(res);
    if (type === 'text/event-stream') return res.body ? withBody(res, eventCap(requestIds(init?.body))(res.body)) : res;
    if (type !== 'application/json') {
      await res.body?.cancel();
      const what = type === 'text/html' ? 'a web page (text/html)' : type ? `"${type}"` : 'content without a type';
      throw new CliError(EXIT.error, `The server at ${where} answered ${what} instead of MCP (application/json or text/event-stream). ${CHECK_URL}.`);
    }
    const text = await readCappedText(res, limits.maxAnswerBytes);
    if (text === undefined) throw new CliError(EXIT.error, tooLarge('a JSON answer'));
    const wrong = notJsonRpc(text);
    if (wrong) throw new CliError(EXIT.error, `The server at ${where} answered ${wrong}, so it is not an MCP server. ${CHECK_URL}.`);
    return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

const mediaType = (res: Response) => (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
const formatMib = (bytes: number) => String(Math.round((bytes / 1024 / 1024) * 100) / 100);

function withBody(res: Response, body: ReadableStream<Uint8Array>): Response {
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** The ids of the requests in a POST body the SDK sent (one message or a batch, as JSON text). */
function requestIds(body: unknown): (string | number)[] {
  if (typeof body !== 'string') return [];
  try {
    const value = JSON.parse(body) as unknown;
    return (Array.isArray(value) ? value : [value]).flatMap((m: { id?: unknown; method?: unknown }) =>
      (typeof m?.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number') ? [m.id] : []));
  } catch {
    return [];
  }
}

/** The SDK follows a 307/308 within the origin; anything else (a sign-in page elsewhere) is not MCP. */
async function redirect(res: Response, from: URL, where: string): Promise<Response> {
  const location = res.headers.get('location');
  let target: URL | undefined;
  try {
    target = location ? new URL(location, from) : undefined;
  } catch { /* not a URL: named as no target */ }
  if (target && target.origin === from.origin && (res.status === 307 || res.status === 308)) return res;
  await res.body?.cancel();
  const to = target ? ` to ${target.origin}${target.pathname}` : '';
  throw new CliError(EXIT.error, `The server at ${where} redirected the MCP request${to} (HTTP ${res.status}) instead of answering it, as a browser sign-in would. ${CHECK_URL}.`);
}

/** What is wrong with a JSON answer, or undefined for one or more JSON-RPC messages. */
function notJsonRpc(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'invalid JSON';
  }
  const messages = Array.isArray(value) ? value : [value];
  const ok = messages.length > 0 && messages.every((m) => typeof m === 'object' && m !== null && (m as { jsonrpc?: unknown }).jsonrpc === '2.0');
  return ok ? undefined : 'JSON that is not a JSON-RPC message';
}

async function refusal(res: Response, where: string, inSession: boolean): Promise<string> {
  const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  const detail = serverDetail(res.headers.get('www-authenticate'), await res.text().catch(() => ''));
  const said = detail ? ` (the server said: ${detail})` : '';
  if (res.status === 401) {
    return `The MCP server at ${where} refused the access token (${status}) even after a refresh${said}. It may expect another audience or scopes: set tokenrelay.resource, or pass --scopes.`;
  }
  if (res.status === 403) return `The MCP server at ${where} denied access (${status})${said}. The account may lack access, or the token scopes (pass --scopes).`;
  if (res.status === 404 && inSession) return `The MCP server at ${where} no longer knows this session (${status}). Restart this MCP server in your client to start a new session.`;
  if (res.status >= 500) return `The MCP server at ${where} failed (${status})${said}. Try again later.`;
  if (detail) return `The MCP server at ${where} refused the request (${status}): ${detail}.`;
  return `The server at ${where} answered ${status} to an MCP request, so it is not an MCP endpoint. ${CHECK_URL}.`;
}

/** The server's own words: a JSON-RPC error message, or an RFC 6750 error_description. */
function serverDetail(challenge: string | null, body: string): string | undefined {
  let said: string | undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; error_description?: unknown };
    const message = typeof parsed.error === 'object' ? parsed.error?.message : parsed.error_description;
    if (typeof message === 'string') said = message;
  } catch { /* not JSON: an HTML page says nothing useful here */ }
  said ??= /error_description="([^"]*)"/.exec(challenge ?? '')?.[1];
  const clean = said?.replace(/\s+/g, ' ').trim();
  return clean ? (clean.length > MAX_DETAIL ? `${clean.slice(0, MAX_DETAIL)}…` : clean) : undefined;
}
