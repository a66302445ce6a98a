// The stdio MCP server the client launches, relaying every JSON-RPC message both ways to the remote
// Streamable-HTTP server (requests, responses, notifications, server-to-client requests): the
// proxy adds only the bearer token, so it never needs to know the server's tools. Bundled on its
// own as dist/mcp-proxy.js, so no other command pays for parsing the SDK at start-up.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isInitializeRequest, isJSONRPCErrorResponse, isJSONRPCRequest, isJSONRPCResultResponse, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { redactor } from '../../core/redact.ts';
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { PROG } from '../common.ts';
import { DEFAULT_MAX_ANSWER_MIB } from './answerCap.ts';
import { checkedAnswers } from './answerCheck.ts';
import { bearerFetch } from './bearerFetch.ts';
import { CurrentToken, type TokenWish } from './currentToken.ts';
import { admitServer, RefusedServer } from './serverAdmission.ts';

export interface RelayOptions extends TokenWish {
  server: URL;
  /** The most one JSON answer or SSE event may hold (default DEFAULT_MAX_ANSWER_MIB). */
  maxAnswerBytes?: number;
}

/** JSON-RPC "server error" range: the request never got an answer from the MCP server. */
const PROXY_ERROR = -32000;
/** How long requests still in flight may take once the client has closed its end. */
const DRAIN_MS = 5000;

const say = (text: string) => process.stderr.write(`${PROG} mcp-proxy: ${redactor.redact(text)}\n`);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runRelay(options: RelayOptions): Promise<number> {
  // Nothing reaches the server before it is admitted. Refused: said and stopped. Undecided (no
  // window, a broken setting): every request is answered with that error, and the server sees none.
  let undecided: unknown;
  let profile: string | undefined;
  try {
    profile = await admitServer(options.server);
  } catch (err) {
    if (err instanceof RefusedServer) {
      say(err.message);
      return EXIT.error;
    }
    undecided = err;
  }
  // The profile that admitted the server is the one whose token it gets.
  const tokens = new CurrentToken({ scopes: options.scopes, account: options.account, profile });
  if (!undecided) tokens.get().catch(() => undefined); // fetched while the client starts; a failure surfaces on the first request
  const local = new StdioServerTransport();
  const initializing = new Set<RequestId>();
  const inFlight = new Set<RequestId>();
  let drained: (() => void) | undefined;
  const settle = (id: RequestId) => { if (inFlight.delete(id) && inFlight.size === 0) drained?.(); };
  const limits = {
    maxAnswerBytes: options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_MIB * 1024 * 1024,
    // An answer too large to pass on: its request gets the reason as its answer, once.
    unanswered: (ids: RequestId[], message: string) => {
      say(message);
      for (const id of ids) {
        if (!inFlight.has(id)) continue;
        settle(id);
        void local.send({ jsonrpc: '2.0', id, error: { code: PROXY_ERROR, message } });
      }
    },
  };
  const fetcher = undecided ? () => Promise.reject(undecided) : checkedAnswers(bearerFetch(options.server, tokens), options.server, limits);
  const remote = new StreamableHTTPClientTransport(options.server, { fetch: fetcher });

  local.onmessage = (message: JSONRPCMessage) => {
    if (isJSONRPCRequest(message)) {
      inFlight.add(message.id);
      if (isInitializeRequest(message)) initializing.add(message.id);
    }
    remote.send(message).catch((err: unknown) => {
      // Already said on stderr by onerror; the client gets it as the answer to its request.
      if (!isJSONRPCRequest(message)) return;
      settle(message.id);
      void local.send({ jsonrpc: '2.0', id: message.id, error: { code: PROXY_ERROR, message: redactor.redact(messageOf(err)) } });
    });
  };
  remote.onmessage = (message: JSONRPCMessage) => {
    const answer = isJSONRPCResultResponse(message) || (isJSONRPCErrorResponse(message) && message.id !== undefined);
    // Already answered by the proxy (its answer was too large): the client gets one answer per request.
    if (answer && !inFlight.has(message.id!)) return;
    if (isJSONRPCResultResponse(message)) {
      settle(message.id);
      // The SDK's Client does this after initialize; a relay has to do it for the client.
      const version = initializing.delete(message.id) ? message.result.protocolVersion : undefined;
      if (typeof version === 'string') remote.setProtocolVersion(version);
    } else if (isJSONRPCErrorResponse(message) && message.id !== undefined) {
      settle(message.id);
    }
    void local.send(message);
  };
  remote.onerror = (err) => say(messageOf(err));
  local.onerror = (err) => say(`invalid message from the MCP client: ${messageOf(err)}`);

  const clientGone = new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
  await remote.start();
  await local.start();
  await clientGone;
  if (inFlight.size) {
    await Promise.race([new Promise<void>((resolve) => { drained = resolve; }), new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())]);
  }
  remote.onerror = undefined; // a server that keeps no sessions may refuse the DELETE: not worth a line
  await remote.terminateSession().catch(() => undefined);
  await remote.close();
  await local.close();
  return EXIT.ok;
}
