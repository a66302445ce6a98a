// tokenrelay.kubernetes.clusters and the plain-http rule for kubectl-credential, as pure functions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { clusterRefusal } from '../../src/app/clusterAccess.ts';
import { readKubernetesClusters } from '../../src/app/settings.ts';
import { TokenRelayError } from '../../src/core/errors.ts';

test('clusterRefusal: https anywhere when unset, http only to loopback, the list when set, nothing unnamed when set', () => {
  assert.equal(clusterRefusal(undefined, undefined), undefined, 'kubectl did not say, nothing set: as before');
  assert.equal(clusterRefusal('https://k8s.example.com:6443', undefined), undefined);
  for (const server of ['http://127.0.0.1:8080', 'http://localhost', 'http://[::1]:6443']) assert.equal(clusterRefusal(server, undefined), undefined, server);
  for (const server of ['http://192.0.2.7:8080', 'http://k8s.example.com', 'http://127.0.0.1.evil.example']) {
    assert.match(clusterRefusal(server, undefined) ?? '', /is reached over plain http, which would send the token unencrypted/, server);
  }
  const listed = ['k8s.example.com:6443', '*.clusters.example.com'];
  for (const server of ['https://k8s.example.com:6443/', 'https://a.clusters.example.com']) assert.equal(clusterRefusal(server, listed), undefined, server);
  for (const server of ['https://k8s.example.com', 'https://k8s.example.com:443', 'https://clusters.example.com', 'https://k8s.example.com.evil:6443']) {
    assert.match(clusterRefusal(server, listed) ?? '', /is not in tokenrelay\.kubernetes\.clusters/, server);
  }
  assert.match(clusterRefusal(undefined, listed) ?? '', /provideClusterInfo: true/);
  assert.match(clusterRefusal('not a url', undefined) ?? '', /not a URL/);
  assert.match(clusterRefusal('ftp://k8s.example.com', undefined) ?? '', /not an http\(s\) URL/);
});

test('readKubernetesClusters: application-scoped, host patterns only, a bad entry names the setting', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const setting = pkg.contributes.configuration.properties['tokenrelay.kubernetes.clusters'];
  assert.equal(setting.scope, 'application');
  assert.deepEqual(setting.type, ['array', 'null']);
  assert.equal(setting.default, null);
  const read = (value: unknown) => readKubernetesClusters((key) => (key === 'kubernetes.clusters' ? value : undefined));
  assert.equal(read(undefined), undefined);
  assert.deepEqual(read([' k8s.example.com:6443 ']), ['k8s.example.com:6443']);
  for (const bad of ['k8s.example.com', ['https://k8s.example.com'], [7]]) {
    assert.throws(() => read(bad), (err: unknown) => err instanceof TokenRelayError && err.code === 'config' && /tokenrelay\.kubernetes\.clusters (must be a list|contains)/.test(err.message), JSON.stringify(bad));
  }
});
