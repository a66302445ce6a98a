// A refresh whose discovery fails never sent the refresh token, however the discovery failed (a
// reset or a timeout may "have reached the server", but only with a GET for the metadata): the
// core must see it as unspent, so the claim is released and the refresh retried, never ended.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { TransientError } from '../../src/core/errors.ts';

test('a refresh whose discovery is reset mid-answer reports the refresh token as never sent', async () => {
  let requests = 0;
  const server = createServer((socket) => { requests++; socket.once('data', () => socket.destroy()); }); // reads the request, then resets
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    const client = new OAuthClient({ issuer: `http://127.0.0.1:${port}`, clientId: 'cli', scopes: ['offline_access'] });
    const err = await client.refresh('refresh-token-value', AbortSignal.timeout(5_000)).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TransientError, String(err));
    assert.match(err.message, /during discovery/);
    assert.equal(err.mayHaveReachedServer, false, 'only the metadata request went out');
    assert.ok(requests >= 1, 'the discovery request reached the server');
  } finally {
    server.close();
  }
});
