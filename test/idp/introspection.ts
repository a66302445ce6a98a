// RFC 7662 introspection as a confidential client (client_secret_basic).

export interface Introspection {
  active: boolean;
  sub?: string;
  scope?: string;
  client_id?: string;
  token_type?: string;
  exp?: number;
  [claim: string]: unknown;
}

export interface ClientCredentials { id: string; secret: string }

export async function introspectToken(endpoint: string, client: ClientCredentials, token: string): Promise<Introspection> {
  // RFC 6749 2.3.1: id and secret are form-encoded before base64.
  const basic = Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64');
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ token }),
  });
  if (!res.ok) throw new Error(`introspection failed: HTTP ${res.status}`);
  const body = (await res.json()) as Introspection;
  if (typeof body.active !== 'boolean') throw new Error('introspection response without "active"');
  return body;
}
