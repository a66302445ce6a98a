// Whether the MCP server may receive the token, decided before anything is sent to it: the host
// (window, agent or this process) checks tokenrelay.mcp.servers, then the server's own RFC 9728
// metadata must name this URL and our issuer.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError } from '../common.ts';
import { call } from '../connection.ts';
import { resourceMetadataProblem } from './resourceMetadata.ts';

/** The server was refused: the proxy says why and stops, having sent it nothing. */
export class RefusedServer extends CliError {
  constructor(message: string) {
    super(EXIT.error, message);
  }
}

/**
 * Resolves with the profile that serves it when the server may get the token; rejects with RefusedServer when it may not, or with
 * the host's error (no window, a broken setting) when nobody could say.
 */
export async function admitServer(server: URL): Promise<string | undefined> {
  const answer = await call('mcp-server', { url: server.href });
  if (answer.declined) throw new RefusedServer(`Not connecting: ${answer.declined}.`);
  const problem = await resourceMetadataProblem(server, answer.issuer);
  if (problem) throw new RefusedServer(problem);
  return answer.profile;
}
