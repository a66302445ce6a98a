// tokenrelay.docker.* validation and the registry names docker passes to a credential helper.
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseDockerSettings } from '../../src/app/settings.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { registryOf } from '../../src/app/dockerAccess.ts';

const from = (values: Record<string, unknown>) => (key: string) => values[key];

describe('registryOf', () => {
  test('bare hosts and https URLs name the same registry; plain http is marked; junk is not a registry', () => {
    assert.deepEqual(registryOf('Registry.Example.com:5000'), { host: 'registry.example.com:5000', https: true });
    assert.deepEqual(registryOf('https://index.docker.io/v1/'), { host: 'index.docker.io', https: true });
    assert.deepEqual(registryOf('https://registry.example.com:443'), { host: 'registry.example.com', https: true });
    assert.deepEqual(registryOf('http://registry.example.com'), { host: 'registry.example.com', https: false });
    for (const junk of ['', '  ', '{"ServerURL":"x"}', 'a b', 'ftp://registry.example.com', 'https://user:pw@registry.example.com', 'https://']) {
      assert.equal(registryOf(junk), undefined, junk);
    }
  });
});

describe('parseDockerSettings', () => {
  test('defaults: username oauth2, no registries (nothing gets a token until listed)', () => {
    assert.deepEqual(parseDockerSettings(from({})), { username: 'oauth2', registries: [] });
  });

  test('registries are normalised to hosts and deduplicated; the username is trimmed', () => {
    assert.deepEqual(parseDockerSettings(from({ 'docker.username': ' robot ', 'docker.registries': ['https://Registry.Example.com/v2/', 'registry.example.com', 'ghcr.io'] })),
      { username: 'robot', registries: ['registry.example.com', 'ghcr.io'] });
  });

  test('a plain-http or malformed entry, or a non-list, is a config problem naming the setting and the fix', () => {
    for (const registries of [['http://registry.example.com'], ['not a host'], 'registry.example.com', [5000]]) {
      assert.throws(() => parseDockerSettings(from({ 'docker.registries': registries })), (err: unknown) =>
        err instanceof TokenRelayError && err.code === 'config' && /tokenrelay\.docker\.registries/.test(err.message) && /registry\.example\.com/.test(String(err.fix ?? err.message)));
    }
  });
});

test('package.json contributes both settings with the defaults the code uses, and ships the helper', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const props = pkg.contributes.configuration.properties;
  const defaults = parseDockerSettings(from({}));
  assert.equal(props['tokenrelay.docker.username'].default, defaults.username);
  assert.deepEqual(props['tokenrelay.docker.registries'].default, defaults.registries);
  assert.equal(props['tokenrelay.docker.registries'].scope, 'application', 'a workspace cannot add a registry');
  assert.equal(pkg.bin['docker-credential-tokenrelay'], './dist/docker-credential-tokenrelay.js');
  assert.match(readFileSync(new URL('../../.vscodeignore', import.meta.url), 'utf8'), /^!dist\/docker-credential-tokenrelay\.js$/m);
  // The launcher runs the docker helper when invoked under this name (vsce packs the link as a copy).
  assert.equal(readlinkSync(new URL('../../bin/docker-credential-tokenrelay', import.meta.url)), 'tokenrelay');
});
