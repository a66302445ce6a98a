// `tokenrelay kubectl-credential` with the real kubectl: a kubeconfig users[].user.exec entry (the
// README's YAML), a local HTTPS stand-in of the API server (self-signed certificate from openssl,
// trusted through certificate-authority-data) that checks the bearer token by introspection at the
// test IdP, and `kubectl get --raw /api` before and after the token expires.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { cliBundle, runCli, runChild, startWindow, waitFor, type TestWindow } from './support.ts';
import { until } from '../support/wait.ts';

/** Long enough that a kubectl run with its node plugin on 2 busy cores ends well inside a token's fresh part. */
const TTL_SECONDS = 10;
/** Asks the window for a token with at least half its lifetime ahead (the most minValidityMs gets). */
const FRESH = { minValidityMs: TTL_SECONDS * 1000 };
const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';
/** kubectl < 1.22 (Debian bookworm's kubernetes-client is 1.20) speaks only the v1beta1 exec API. */
const kubectlMinor = Number(/^\d+/.exec(JSON.parse(execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' })).clientVersion.minor)![0]);
const NEWEST = kubectlMinor >= 22 ? V1 : V1BETA1;
const API_VERSIONS = { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] };

let world: World;
let win: TestWindow;
/** tokenrelay.kubernetes.clusters as the window reads it on each request. */
let clustersSetting: unknown;
let apiServer: Server;
let apiUrl: string;
let caData: string;
/** Every bearer token the API server saw, with whether introspection found it active. */
const seen: { token: string; active: boolean }[] = [];

function selfSignedCertificate(dir: string): { key: Buffer; cert: Buffer } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: TTL_SECONDS });
  await world.signInAccount();
  win = await startWindow(world, { kubernetesClusters: () => clustersSetting });
  const tls = selfSignedCertificate(world.dir);
  caData = tls.cert.toString('base64');
  apiServer = createServer(tls, (req, res) => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || req.url !== '/api') {
      res.writeHead(token ? 404 : 401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
      return;
    }
    void world.idp.introspect(token).then(({ active }) => {
      seen.push({ token, active });
      if (!active) res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","status":"Failure","code":401}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(API_VERSIONS));
    });
  });
  await new Promise<void>((resolve) => apiServer.listen(0, '127.0.0.1', resolve));
  apiUrl = `https://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => apiServer?.close(resolve));
  await win?.close();
  await world?.close();
});

/** The kubeconfig of docs/integrations.md "kubectl", pointing at the stand-in; `provideClusterInfo` as recommended. */
function kubeconfig(execApiVersion: string, provideClusterInfo = false): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster:
    server: ${apiUrl}
    certificate-authority-data: ${caData}
users:
- name: tokenrelay
  user:
    exec:
      apiVersion: ${execApiVersion}
      command: tokenrelay
      args: [kubectl-credential]
      interactiveMode: Never${provideClusterInfo ? '\n      provideClusterInfo: true' : ''}
contexts:
- name: dev
  context: {cluster: dev, user: tokenrelay}
current-context: dev
`;
}

async function kubectl(execApiVersion: string, args: string[], provideClusterInfo = false) {
  const home = join(world.dir, 'home');
  mkdirSync(home, { recursive: true });
  const config = join(world.dir, `kubeconfig-${execApiVersion.split('/')[1]}${provideClusterInfo ? '-info' : ''}`);
  writeFileSync(config, kubeconfig(execApiVersion, provideClusterInfo), { mode: 0o600 });
  const env = {
    PATH: `${(await cliBundle()).binDir}${delimiter}${process.env.PATH}`,
    HOME: home, KUBECONFIG: config, TOKENRELAY_SOCK: win.server.socketPath,
  };
  return runChild('kubectl', args, { env });
}

const current = () => win.service.getToken();

describe('kubectl-credential', () => {
  test('prints a client.authentication.k8s.io/v1 ExecCredential; v1beta1 by flag or by KUBERNETES_EXEC_INFO', async () => {
    const grant = await win.service.getToken(FRESH); // the one the CLI gets next
    const expiry = new Date(Math.floor(grant.expiresAt / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const v1 = await runCli(win.server.socketPath, ['kubectl-credential'], { env: { KUBERNETES_EXEC_INFO: undefined } });
    assert.equal(v1.code, 0, v1.stderr);
    assert.equal(v1.stdout, `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${grant.accessToken}","expirationTimestamp":"${expiry}"}}\n`);
    assert.match(expiry, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'RFC 3339');
    const flag = await runCli(win.server.socketPath, ['kubectl-credential', '--api-version', 'v1beta1'], { env: { KUBERNETES_EXEC_INFO: undefined } });
    assert.equal(JSON.parse(flag.stdout).apiVersion, 'client.authentication.k8s.io/v1beta1');
    const info = JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1beta1', spec: { interactive: false } });
    const fromEnv = await runCli(win.server.socketPath, ['kubectl-credential', '--api-version', 'v1'], { env: { KUBERNETES_EXEC_INFO: info } });
    assert.equal(JSON.parse(fromEnv.stdout).apiVersion, 'client.authentication.k8s.io/v1beta1', 'what kubectl asks for wins');
  });

  test('bad input: an unknown --api-version or KUBERNETES_EXEC_INFO names the fix and prints no token', async () => {
    const flag = await runCli(win.server.socketPath, ['kubectl-credential', '--api-version', 'v2'], { env: { KUBERNETES_EXEC_INFO: undefined } });
    assert.equal(flag.code, 2);
    assert.equal(flag.stdout, '');
    assert.equal(flag.stderr, 'tokenrelay: --api-version "v2" is not supported; use v1 or v1beta1. Run "tokenrelay kubectl-credential --help" for usage.\n');
    const alpha = JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1alpha1' });
    const env = await runCli(win.server.socketPath, ['kubectl-credential'], { env: { KUBERNETES_EXEC_INFO: alpha } });
    assert.equal(env.code, 2);
    assert.equal(env.stdout, '');
    assert.match(env.stderr, /apiVersion "client\.authentication\.k8s\.io\/v1alpha1", which tokenrelay does not speak\. Set the kubeconfig exec apiVersion to client\.authentication\.k8s\.io\/v1 or client\.authentication\.k8s\.io\/v1beta1\.\n$/);
    const garbage = await runCli(win.server.socketPath, ['kubectl-credential'], { env: { KUBERNETES_EXEC_INFO: '{' } });
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /KUBERNETES_EXEC_INFO is not JSON/);
  });

  test('real kubectl: `get --raw /api` is accepted; after the token expires the next kubectl gets a fresh one', async () => {
    await win.service.getToken(FRESH); // half a lifetime ahead, however long the tests above took
    world.idp.resetCounters();
    const first = await kubectl(NEWEST, ['get', '--raw', '/api']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), API_VERSIONS);
    const a = seen.at(-1)!; // the token kubectl sent, whatever the window holds now
    assert.equal(a.active, true, 'the API accepted the first token');

    const { exp } = await world.idp.introspect(a.token);
    await until(exp! * 1000);
    await waitFor('the IdP to see the first token expired', 5000, async () => !(await world.idp.introspect(a.token)).active);
    // An older kubeconfig (v1beta1): the plugin answers what KUBERNETES_EXEC_INFO asks for.
    const second = await kubectl(V1BETA1, ['get', '--raw', '/api']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(JSON.parse(second.stdout), API_VERSIONS);
    const b = seen.at(-1)!;
    assert.ok(b.token !== a.token, 'a fresh token after expiry');
    assert.equal(b.active, true, 'the API accepted the fresh token');
    assert.equal(seen.filter((s) => !s.active).length, 0, 'kubectl never sent an expired token');
    assert.equal(world.idp.counters().refreshGrants, 1, 'one refresh, by the window');
  });

  test('an early revocation: kubectl fails until the README\'s one-liner reports the token, then works', async () => {
    await win.service.getToken(FRESH); // not refreshed at expiry before the report below
    assert.ok(await world.idp.revokeLatestAccessToken());
    const refused = await kubectl(NEWEST, ['get', '--raw', '/api']);
    assert.notEqual(refused.code, 0);
    assert.equal(seen.at(-1)!.active, false);
    world.idp.resetCounters();
    const env = { ...process.env, PATH: `${(await cliBundle()).binDir}${delimiter}${process.env.PATH}`, TOKENRELAY_SOCK: win.server.socketPath };
    const report = await runChild('/bin/sh', ['-c', 'tokenrelay token | tokenrelay token --rejected - >/dev/null'], { env });
    assert.equal(report.code, 0, report.stderr);
    assert.equal(world.idp.counters().refreshGrants, 1);
    const healed = await kubectl(NEWEST, ['get', '--raw', '/api']);
    assert.equal(healed.code, 0, healed.stderr);
    assert.equal(seen.at(-1)!.active, true);
  });
});

describe('kubectl-credential: only the clusters the user named (KUBERNETES_EXEC_INFO spec.cluster.server, tokenrelay.kubernetes.clusters)', () => {
  const withCluster = (server: string) => JSON.stringify({ kind: 'ExecCredential', apiVersion: V1, spec: { cluster: { server }, interactive: false } });
  after(() => { clustersSetting = undefined; });

  test('a plain-http cluster on another host gets no token, allowlist or not; plain http to loopback and https do', async () => {
    for (const setting of [undefined, ['192.0.2.7:8080']]) {
      clustersSetting = setting;
      const r = await runCli(win.server.socketPath, ['kubectl-credential'], { env: { KUBERNETES_EXEC_INFO: withCluster('http://192.0.2.7:8080') } });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '', 'no ExecCredential, no token');
      assert.equal(r.stderr, 'tokenrelay: No token for kubectl: the cluster 192.0.2.7:8080 is reached over plain http, which would send the token unencrypted; use its https address (plain http only to 127.0.0.1, ::1 or localhost).\n');
    }
    clustersSetting = undefined;
    for (const server of ['http://127.0.0.1:8080', 'https://k8s.example.com:6443']) {
      const r = await runCli(win.server.socketPath, ['kubectl-credential'], { env: { KUBERNETES_EXEC_INFO: withCluster(server) } });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(JSON.parse(r.stdout).status.token, server);
    }
  });

  test('tokenrelay.kubernetes.clusters set: an unlisted cluster, or a kubectl that does not say, gets no token, naming the setting', async () => {
    clustersSetting = ['k8s.example.com:6443'];
    const unlisted = await runCli(win.server.socketPath, ['kubectl-credential'], { env: { KUBERNETES_EXEC_INFO: withCluster('https://attacker.example:6443') } });
    assert.equal(unlisted.code, 1);
    assert.equal(unlisted.stdout, '');
    assert.match(unlisted.stderr, /^tokenrelay: No token for kubectl: attacker\.example:6443 is not in tokenrelay\.kubernetes\.clusters \(k8s\.example\.com:6443\); add it there/);
    const silent = await runCli(win.server.socketPath, ['kubectl-credential'], { env: { KUBERNETES_EXEC_INFO: JSON.stringify({ kind: 'ExecCredential', apiVersion: V1, spec: { interactive: false } }) } });
    assert.equal(silent.code, 1);
    assert.equal(silent.stdout, '');
    assert.match(silent.stderr, /tokenrelay\.kubernetes\.clusters is set, but kubectl did not say which cluster the token is for; set "provideClusterInfo: true" in the kubeconfig user's exec section/);
    const listed = await runCli(win.server.socketPath, ['kubectl-credential'], { env: { KUBERNETES_EXEC_INFO: withCluster('https://K8S.example.com:6443') } });
    assert.equal(listed.code, 0, listed.stderr);
    clustersSetting = undefined;
  });

  test('real kubectl with provideClusterInfo: an unlisted API server never sees a token; listed, it does', async () => {
    await win.service.getToken(FRESH);
    const before = seen.length;
    clustersSetting = ['k8s.example.com'];
    const refused = await kubectl(NEWEST, ['get', '--raw', '/api'], true);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /127\.0\.0\.1:\d+ is not in tokenrelay\.kubernetes\.clusters/);
    assert.equal(seen.length, before, 'no bearer token reached the API server');
    clustersSetting = [new URL(apiUrl).host];
    const allowed = await kubectl(NEWEST, ['get', '--raw', '/api'], true);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(seen.at(-1)!.active, true);
    clustersSetting = undefined;
  });
});
