// RFC 9728 protected-resource metadata, read before the first token goes out: a server that says
// which resource it is and which authorization servers it trusts must name this URL and our
// issuer, or it gets nothing. A server that publishes none (404, a web page, unreachable) is judged
// by tokenrelay.mcp.servers alone; its first request then says what is wrong.

const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const MAX_BYTES = 64 * 1024;
const TIMEOUT_MS = 10_000;
const MAX_QUOTED = 200;

/** Why the server at `server` must not get a token from `issuer`, or undefined. */
export async function resourceMetadataProblem(server: URL, issuer: string | undefined): Promise<string | undefined> {
  const path = server.pathname.replace(/\/+$/, '');
  // The path-specific document first (RFC 9728 §3.1), then the origin's, as MCP clients look for them.
  for (const at of [...(path ? [`${server.origin}${WELL_KNOWN}${path}`] : []), `${server.origin}${WELL_KNOWN}`]) {
    const metadata = await fetchMetadata(at);
    if (metadata) return mismatch(metadata, at, server, issuer);
  }
  return undefined;
}

/** The document at `at` when it is JSON with a `resource`, else undefined (not published there). */
async function fetchMetadata(at: string): Promise<{ resource: string; authorization_servers?: unknown } | undefined> {
  let res: Response;
  try {
    // No token, and no redirect followed: the metadata is the server's own word about itself.
    res = await fetch(at, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch {
    return undefined;
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (res.status !== 200 || !/^application\/([a-z0-9.+-]+\+)?json$/.test(type)) {
    await res.body?.cancel();
    return undefined;
  }
  const text = await readCapped(res);
  try {
    const value = JSON.parse(text ?? '') as unknown;
    if (typeof value === 'object' && value !== null && typeof (value as { resource?: unknown }).resource === 'string') {
      return value as { resource: string; authorization_servers?: unknown };
    }
  } catch { /* not a metadata document */ }
  return undefined;
}

async function readCapped(res: Response): Promise<string | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function mismatch(metadata: { resource: string; authorization_servers?: unknown }, at: string, server: URL, issuer: string | undefined): string | undefined {
  const where = `${server.origin}${server.pathname}`;
  if (!resourceCovers(metadata.resource, server)) {
    return `The MCP server at ${where} describes itself as the resource ${quote(metadata.resource)} (RFC 9728 metadata at ${at}), which is not this URL, so it gets no token. Check the URL, or ask the server's operator to correct its protected-resource metadata.`;
  }
  const servers = metadata.authorization_servers;
  if (issuer === undefined || !Array.isArray(servers)) return undefined;
  if (servers.some((s) => typeof s === 'string' && sameIssuer(s, issuer))) return undefined;
  return `The MCP server at ${where} accepts tokens from ${quote(servers.map(String).join(', ') || 'no authorization server')} (RFC 9728 metadata at ${at}), not from ${issuer}, your tokenrelay.issuer, so it gets no token. Check the URL, or use a Token Relay profile signed in to the identity provider that server trusts.`;
}

/** The resource names this URL: the same origin and a path prefix on a segment boundary. */
function resourceCovers(resource: string, server: URL): boolean {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return false;
  }
  const path = url.pathname.replace(/\/+$/, '');
  return url.origin === server.origin && (!path || server.pathname === path || server.pathname.startsWith(`${path}/`));
}

/**
 * An authorization server is ours when it is our issuer (a trailing slash aside). A configuration by
 * endpoints alone knows only its token endpoint's origin as the issuer: then the same origin counts.
 */
function sameIssuer(candidate: string, issuer: string): boolean {
  const trim = (s: string) => s.replace(/\/+$/, '');
  if (trim(candidate) === trim(issuer)) return true;
  try {
    const ours = new URL(issuer);
    return ours.pathname === '/' && new URL(candidate).origin === ours.origin && trim(issuer) === ours.origin;
  } catch {
    return false;
  }
}

/** Server-chosen text in our message: quoted, without control characters, bounded. */
function quote(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return JSON.stringify(clean.length > MAX_QUOTED ? `${clean.slice(0, MAX_QUOTED)}…` : clean);
}
