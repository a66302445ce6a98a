// The test IdP must behave like a strict production server; these tests prove each property
// the rest of the suite relies on (rotation, reuse detection, expiry, faults, device flow).
import { waitFor } from './support/wait.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { idpControl } from './idp/control.ts';
import { approveDeviceCode, completeAuthorization } from './idp/login.ts';
import { startIdp, type Idp } from './idp/server.ts';
import { RESOURCES } from './idp/config.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const REDIRECT_URI = 'http://127.0.0.1:53682/callback';
const FULL_SCOPE = 'openid offline_access profile api:read';

let idp: Idp;
let as: oauth.AuthorizationServer;
let client: oauth.Client;
const logLines: string[] = [];

interface Tokens { access_token: string; refresh_token?: string; expires_in?: number }

async function signIn(login = 'alice', scope = FULL_SCOPE): Promise<Tokens> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: client.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope, state,
    prompt: 'consent', code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  }).toString();
  const callback = await completeAuthorization(url.href, { login });
  const params = oauth.validateAuthResponse(as, client, new URL(callback), state);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, insecure);
  return oauth.processAuthorizationCodeResponse(as, client, res);
}

async function refresh(refreshToken: string): Promise<Tokens> {
  const res = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, insecure);
  return oauth.processRefreshTokenResponse(as, client, res);
}

/** Raw refresh (no oauth4webapi parsing) to observe faults directly. */
function rawRefresh(refreshToken: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: idp.clientId }),
    signal,
  });
}

function postForm(agent: Agent, url: string, fields: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end(new URLSearchParams(fields).toString());
  });
}

function callApi(accessToken: string): Promise<Response> {
  return fetch(idp.apiUrl, { headers: { authorization: `Bearer ${accessToken}` } });
}

async function grantError(promise: Promise<unknown>): Promise<oauth.ResponseBodyError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof oauth.ResponseBodyError, `expected an OAuth error response, got ${String(err)}`);
  return err;
}


before(async () => {
  idp = await startIdp({ logger: (line) => logLines.push(line) });
  as = await oauth.processDiscoveryResponse(new URL(idp.issuer), await oauth.discoveryRequest(new URL(idp.issuer), insecure));
  client = { client_id: idp.clientId };
});

after(async () => {
  await idp?.close();
});

describe('test IdP', () => {
  test('authorization code + PKCE yields access and refresh tokens for the requested scopes', async () => {
    idp.resetCounters();
    const tokens = await signIn('alice');
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(typeof tokens.refresh_token, 'string');
    assert.doesNotMatch(tokens.access_token, /\./, 'access tokens must be opaque, not JWTs');
    assert.equal(idp.counters().authorizationCodeGrants, 1);
    assert.equal(idp.counters().tokensIssued, 1);
    assert.deepEqual(idp.issuedTokens().slice(-2), [tokens.access_token, tokens.refresh_token]);
    const info = await idp.introspect(tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info.sub, 'alice');
    assert.deepEqual(new Set(info.scope?.split(' ')), new Set(FULL_SCOPE.split(' ')));
    const res = await callApi(tokens.access_token);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { sub: 'alice', scope: info.scope });
  });

  test('refresh rotates; reusing the spent refresh token revokes the whole grant', async () => {
    const first = await signIn();
    idp.resetCounters();
    const second = await refresh(first.refresh_token!);
    assert.ok(second.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(idp.counters().refreshGrants, 1);
    assert.equal((await callApi(second.access_token)).status, 200);

    const reuse = await grantError(refresh(first.refresh_token!));
    assert.equal(reuse.error, 'invalid_grant');
    assert.equal(reuse.error_description, 'refresh token already used');
    const counters = idp.counters();
    assert.ok(counters.grantRevocations >= 1);
    assert.equal(counters.errors['refresh token already used'], 1);
    assert.equal(counters.refreshGrants, 1);
    assert.equal(counters.graceReuses, 0);

    assert.equal((await idp.introspect(second.access_token)).active, false);
    const api = await callApi(second.access_token);
    assert.equal(api.status, 401);
    assert.match(api.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token", error_description="[^"]+"$/);
    const orphan = await grantError(refresh(second.refresh_token));
    assert.equal(orphan.error_description, 'refresh token not found');
  });

  test('resource indicators: a refresh asks for one of three audiences, whose token introspects with that aud', async () => {
    const first = await signIn();
    idp.resetCounters();
    let refreshToken = first.refresh_token!;
    for (const resource of RESOURCES) {
      const res = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, { ...insecure, additionalParameters: { resource } });
      const tokens = await oauth.processRefreshTokenResponse(as, client, res);
      const seen = await idp.introspect(tokens.access_token);
      assert.equal(seen.active, true);
      assert.equal(seen.aud, resource);
      refreshToken = tokens.refresh_token!;
    }
    // Without `resource` the token is the userinfo token it always was: no audience.
    const plain = await refresh(refreshToken);
    assert.equal((await idp.introspect(plain.access_token)).aud, undefined);
    assert.equal(idp.counters().refreshGrants, 4);
    assert.equal(idp.counters().grantRevocations, 0);
  });

  test('resource indicators: an unknown resource is invalid_target, and oidc-provider has spent the refresh token by then', async () => {
    const first = await signIn();
    idp.resetCounters();
    const res = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), first.refresh_token!, { ...insecure, additionalParameters: { resource: 'https://unknown.test' } });
    const refused = await grantError(oauth.processRefreshTokenResponse(as, client, res));
    assert.equal(refused.error, 'invalid_target');
    // It rotated (consumed) the token before resolving the resource: presenting it again is reuse.
    const again = await grantError(refresh(first.refresh_token!));
    assert.equal(again.error_description, 'refresh token already used');
    assert.ok(idp.counters().grantRevocations >= 1);
  });

  test('reuse-grace mode: a reuse inside the window replays the first answer and keeps the grant', async () => {
    idp.setReuseGraceSeconds(30);
    try {
      const first = await signIn();
      idp.resetCounters();
      const second = await refresh(first.refresh_token!);
      const replay = await refresh(first.refresh_token!);
      assert.equal(replay.access_token, second.access_token);
      assert.equal(replay.refresh_token, second.refresh_token);
      assert.deepEqual(replay, second, 'the exact first response is replayed');
      assert.deepEqual(idp.counters().errors, {});
      assert.equal(idp.counters().graceReuses, 1);
      assert.equal(idp.counters().grantRevocations, 0);
      assert.equal(idp.counters().refreshGrants, 1, 'a replay is not a new grant');
      assert.equal(idp.counters().tokensIssued, 1, 'a replay issues nothing new');
      // The family keeps working from the replayed tokens.
      assert.equal((await callApi(second.access_token)).status, 200);
      const third = await refresh(second.refresh_token!);
      assert.notEqual(third.refresh_token, second.refresh_token);
      assert.equal((await callApi(third.access_token)).status, 200);
      assert.equal(idp.counters().grantRevocations, 0);
    } finally {
      idp.setReuseGraceSeconds(0);
    }
  });

  test('reuse-grace mode: concurrent presentations of one token all get the same answer', async () => {
    idp.setReuseGraceSeconds(30);
    try {
      const { refresh_token } = await signIn();
      // Five warm keep-alive sockets, so all five requests reach the server together and the
      // later ones arrive while the first use is still in flight (fresh connects would serialise).
      const agent = new Agent({ keepAlive: true, maxSockets: 5 });
      const all = <T>(call: () => Promise<T>) => Promise.all(Array.from({ length: 5 }, call));
      let answers: { status: number; body: string }[];
      try {
        const post = (token: string) => postForm(agent, `${idp.issuer}/token`,
          { grant_type: 'refresh_token', refresh_token: token, client_id: idp.clientId });
        await all(() => post('warm-up'));
        idp.resetCounters();
        answers = await all(() => post(refresh_token!));
      } finally {
        agent.destroy();
      }
      const bodies = answers.map((res) => JSON.parse(res.body) as Tokens);
      assert.deepEqual(answers.map((res) => res.status), [200, 200, 200, 200, 200]);
      assert.equal(new Set(bodies.map((b) => b.refresh_token)).size, 1, 'no forked token family');
      const counters = idp.counters();
      assert.deepEqual([counters.refreshGrants, counters.graceReuses, counters.grantRevocations], [1, 4, 0]);
      assert.deepEqual(counters.errors, {});
      assert.equal((await callApi(bodies[0]!.access_token)).status, 200);
    } finally {
      idp.setReuseGraceSeconds(0);
    }
  });

  test('reuse-grace mode: after the window a reuse is strict again (invalid_grant, grant revoked)', async () => {
    const GRACE_MS = 1000;
    idp.setReuseGraceSeconds(GRACE_MS / 1000);
    try {
      const first = await signIn();
      idp.resetCounters();
      const sentAt = Date.now();
      const second = await refresh(first.refresh_token!);
      // No server event marks the window's end, so poll with the spent token itself: replays until
      // the window closes, then the first strict answer.
      let replays = 0;
      let rejected: Response | undefined;
      await waitFor('the grace window to close', GRACE_MS + 3000, async () => {
        const res = await rawRefresh(first.refresh_token!);
        if (res.status !== 200) { rejected = res; return true; }
        assert.equal(((await res.json()) as Tokens).refresh_token, second.refresh_token);
        replays += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
        return false;
      });
      assert.ok(Date.now() - sentAt > GRACE_MS, `strict again after ${Date.now() - sentAt} ms, before the window closed`);
      assert.ok(replays >= 1, 'the window was open at first');
      assert.equal(rejected!.status, 400);
      assert.deepEqual(await rejected!.json(), { error: 'invalid_grant', error_description: 'refresh token already used' });
      const counters = idp.counters();
      assert.equal(counters.graceReuses, replays);
      assert.ok(counters.grantRevocations >= 1);
      assert.equal(counters.errors['refresh token already used'], 1);
      assert.equal((await idp.introspect(second.access_token)).active, false);
      assert.equal((await grantError(refresh(second.refresh_token!))).error_description, 'refresh token not found');
    } finally {
      idp.setReuseGraceSeconds(0);
    }
  });

  test('reuse-grace mode never replays tokens of a revoked grant', async () => {
    idp.setReuseGraceSeconds(30);
    try {
      const first = await signIn();
      const second = await refresh(first.refresh_token!);
      const revoked = await fetch(as.revocation_endpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: second.refresh_token!, client_id: idp.clientId }),
      });
      assert.equal(revoked.status, 200);
      idp.resetCounters();
      assert.equal((await grantError(refresh(first.refresh_token!))).error_description, 'refresh token not found');
      assert.equal(idp.counters().graceReuses, 0);
    } finally {
      idp.setReuseGraceSeconds(0);
    }
  });

  test('reuseGraceSeconds is an option, defaults to strict and rejects negatives', async () => {
    assert.equal(idp.reuseGraceSeconds(), 0);
    assert.throws(() => idp.setReuseGraceSeconds(-1), RangeError);
    await assert.rejects(startIdp({ reuseGraceSeconds: Number.NaN }), RangeError);
    const graceful = await startIdp({ reuseGraceSeconds: 2 });
    try {
      assert.equal(graceful.reuseGraceSeconds(), 2);
    } finally {
      await graceful.close();
    }
  });

  test('a 1 s access token becomes inactive at the server after expiry', async () => {
    const { refresh_token } = await signIn();
    idp.setAccessTokenTtl(1);
    try {
      const short = await refresh(refresh_token!);
      assert.equal(short.expires_in, 1);
      // The default 15 s clockTolerance would blow this deadline.
      await waitFor('expiry', 3000, async () => !(await idp.introspect(short.access_token)).active);
      assert.equal((await callApi(short.access_token)).status, 401);
    } finally {
      idp.setAccessTokenTtl(60);
    }
    assert.equal((await refresh((await signIn()).refresh_token!)).expires_in, 60);
  });

  test('revokeAccessToken kills only that access token, not the grant', async () => {
    const tokens = await signIn();
    assert.equal((await callApi(tokens.access_token)).status, 200);
    idp.resetCounters();
    assert.equal(idp.revokeAccessToken(tokens.access_token), true);
    assert.equal((await idp.introspect(tokens.access_token)).active, false);
    const api = await callApi(tokens.access_token);
    assert.equal(api.status, 401);
    assert.match(api.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const next = await refresh(tokens.refresh_token!);
    assert.equal((await callApi(next.access_token)).status, 200);
    assert.equal(idp.counters().grantRevocations, 0);
    assert.equal(idp.revokeLatestAccessToken(), true);
    assert.equal((await callApi(next.access_token)).status, 401);
  });

  test('fault error500 answers 500 server_error and is not counted', async () => {
    const { refresh_token } = await signIn();
    idp.resetCounters();
    await idp.setFault('error500');
    try {
      const res = await rawRefresh(refresh_token!);
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { error: 'server_error' });
    } finally {
      await idp.setFault('none');
    }
    assert.equal(idp.counters().refreshGrants, 0);
    assert.equal((await rawRefresh(refresh_token!)).status, 200); // the faulted call never spent it
    assert.equal(idp.counters().refreshGrants, 1);
  });

  test('fault hang never answers; leaving the mode cuts hung sockets', async () => {
    const { refresh_token } = await signIn();
    await idp.setFault('hang');
    let pending: Promise<unknown> | undefined;
    try {
      await assert.rejects(rawRefresh(refresh_token!, AbortSignal.timeout(300)), { name: 'TimeoutError' });
      const hungBefore = logLines.filter((l) => l === 'fault hang POST /token').length;
      pending = rawRefresh(refresh_token!).then(() => 'answered', (e: Error) => e);
      await waitFor('the request to hang', 2000,
        async () => logLines.filter((l) => l === 'fault hang POST /token').length > hungBefore);
    } finally {
      await idp.setFault('none');
    }
    const outcome = await pending;
    assert.ok(outcome instanceof TypeError, `hung request should fail, got ${String(outcome)}`);
    assert.equal((await rawRefresh(refresh_token!)).status, 200);
  });

  test('fault refuse stops listening; recovery re-listens on the same port', async () => {
    const tokens = await signIn();
    await idp.setFault('refuse');
    try {
      // A pooled keep-alive socket may fail first (closed by the server); a fresh connect is refused.
      const codes: unknown[] = [];
      while (codes.at(-1) !== 'ECONNREFUSED' && codes.length < 5) {
        const err = await rawRefresh(tokens.refresh_token!).then(() => undefined, (e: Error) => e);
        assert.ok(err instanceof TypeError, 'request must fail while refusing');
        codes.push((err.cause as NodeJS.ErrnoException | undefined)?.code);
      }
      assert.equal(codes.at(-1), 'ECONNREFUSED', `errors seen: ${codes.join(', ')}`);
      assert.equal((await callApi(tokens.access_token)).status, 200); // resource server stays up
    } finally {
      await idp.setFault('none');
    }
    assert.equal(new URL(idp.issuer).port, String(idp.port));
    assert.equal((await rawRefresh(tokens.refresh_token!)).status, 200);
  });

  test('device flow end to end', async () => {
    idp.resetCounters();
    const dar = await oauth.processDeviceAuthorizationResponse(as, client,
      await oauth.deviceAuthorizationRequest(as, client, oauth.None(), { scope: 'openid offline_access api:read' }, insecure));
    const poll = () => oauth.deviceCodeGrantRequest(as, client, oauth.None(), dar.device_code, insecure)
      .then((res) => oauth.processDeviceCodeResponse(as, client, res));
    assert.equal((await grantError(poll())).error, 'authorization_pending');
    await approveDeviceCode(idp.issuer, dar.user_code, 'dana');
    const tokens = await poll();
    assert.ok(tokens.refresh_token);
    assert.equal(idp.counters().deviceCodeGrants, 1);
    const api = await callApi(tokens.access_token);
    assert.equal(api.status, 200);
    assert.equal(((await api.json()) as { sub: string }).sub, 'dana');
  });

  test('aborting the sign-in redirects with access_denied', async () => {
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: client.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: FULL_SCOPE, state,
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
    }).toString();
    const callback = new URL(await completeAuthorization(url.href, { abort: true }));
    assert.equal(callback.origin + callback.pathname, REDIRECT_URI);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.throws(() => oauth.validateAuthResponse(as, client, callback, state), { error: 'access_denied' });
  });

  test('PKCE is required', async () => {
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: client.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: FULL_SCOPE, prompt: 'consent',
    }).toString();
    const callback = new URL(await completeAuthorization(url.href));
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.equal(callback.searchParams.get('code'), null);
  });

  test('thousands of refreshes on one grant do not evict another idle grant', async () => {
    const idle = await signIn('idle', 'offline_access api:read');
    let rt = (await signIn('busy', 'offline_access api:read')).refresh_token!;
    // node:http with keep-alive is ~40% cheaper per call than fetch, which keeps this loop short.
    const agent = new Agent({ keepAlive: true });
    try {
      for (let i = 0; i < 2100; i++) {
        const res = await postForm(agent, `${idp.issuer}/token`,
          { grant_type: 'refresh_token', refresh_token: rt, client_id: idp.clientId });
        assert.equal(res.status, 200, res.body);
        rt = (JSON.parse(res.body) as Tokens).refresh_token!;
      }
    } finally {
      agent.destroy();
    }
    const revived = await refresh(idle.refresh_token!);
    assert.equal((await callApi(revived.access_token)).status, 200);
  });

  test('no issued token value appears in the IdP log', () => {
    const tokens = idp.issuedTokens();
    assert.ok(tokens.length > 2100);
    const log = logLines.join('\n');
    assert.ok(log.includes('grant.success refresh_token'));
    for (const token of tokens) assert.ok(!log.includes(token), 'a token value leaked into the log');
  });
});

test('main.ts runs as a child process with a control plane and exits on SIGTERM', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/idp/main.ts', '--ttl', '30', '--reuse-grace', '2', '--quiet'], {
    cwd: new URL('..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    const [line] = await Promise.race([
      createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value as string]),
      exited.then((code) => assert.fail(`main.ts exited (${code}) before ready: ${stderr}`)),
    ]);
    const info = JSON.parse(line!) as { issuer: string; clientId: string; apiUrl: string; controlUrl: string };
    assert.equal(info.clientId, 'tokenrelay-test');
    assert.match(info.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    const control = idpControl(info.controlUrl);
    assert.deepEqual(await control.counters(), {
      refreshGrants: 0, authorizationCodeGrants: 0, deviceCodeGrants: 0, grantRevocations: 0, graceReuses: 0,
      tokensIssued: 0, errors: {}, apiCalls: 0, api401s: 0, faultAnswers: 0, tokenAuth: {},
    });
    await control.setReuseGraceSeconds(5);
    await assert.rejects(control.setReuseGraceSeconds(-1), /HTTP 400/);
    await control.setFault('refuse');
    await assert.rejects(fetch(`${info.issuer}/.well-known/openid-configuration`));
    await control.setFault('none');
    assert.equal((await fetch(`${info.issuer}/.well-known/openid-configuration`)).status, 200);
    assert.equal((await fetch(info.apiUrl)).status, 401);
    assert.equal((await control.counters()).api401s, 1);
    assert.equal(await control.revokeLatestAccessToken(), false);
  } finally {
    child.kill('SIGTERM');
  }
  const killedAt = Date.now();
  assert.equal(await exited, 0);
  // main.ts force-exits after 3 s; a quick exit proves no handle lingered after close().
  assert.ok(Date.now() - killedAt < 2000, `exit took ${Date.now() - killedAt} ms`);
});
