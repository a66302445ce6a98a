// The send mark's hook (issue 17): OAuthClient.refresh calls beforeSend before the request carrying
// the refresh token exists, so no connection to the token endpoint is even opened before it returns;
// when it throws, nothing is sent and refresh rejects with exactly what it threw.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';

async function tokenEndpoint() {
  const seen = { connections: 0, bytes: 0 };
  const server = createServer((socket) => {
    seen.connections++;
    socket.on('data', (d) => { seen.bytes += d.length; socket.destroy(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const client = new OAuthClient({ endpoints: { token: `http://127.0.0.1:${port}/token` }, clientId: 'cli', scopes: ['offline_access'] });
  return { seen, client, close: () => server.close() };
}

test('beforeSend runs before the token endpoint sees a connection; a beforeSend that throws sends nothing', async () => {
  const { seen, client, close } = await tokenEndpoint();
  try {
    assert.equal(client.callsBeforeSend, true);
    // At the mark, this process has no client socket at all (the listening one is a TCPServerWrap).
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPConnectWrap').length;
    assert.equal(sockets(), 0);
    const atMark: number[] = [];
    const sent = await client.refresh('refresh-token-value', AbortSignal.timeout(5_000), undefined, () => { atMark.push(sockets()); })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(sent, 'the endpoint reset the connection');
    assert.deepEqual(atMark, [0], 'called once, before any socket to the endpoint existed');
    assert.ok(seen.bytes > 0, 'the request was sent after it');

    const refusal = Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
    const before = { ...seen };
    const err = await client.refresh('refresh-token-value', AbortSignal.timeout(5_000), undefined, () => { throw refusal; }).then(() => undefined, (e: unknown) => e);
    assert.equal(err, refusal, 'rejects with what beforeSend threw, not a network error');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, before, 'no connection, no byte');
  } finally {
    close();
  }
});
