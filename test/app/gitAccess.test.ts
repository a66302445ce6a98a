// The git helper's policy and its setting, as pure functions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { gitRefusal, isGitHostPattern } from '../../src/app/gitAccess.ts';
import { readGitHosts } from '../../src/app/settings.ts';
import { TokenRelayError } from '../../src/core/errors.ts';

describe('gitRefusal', () => {
  test('https anywhere when unscoped; http only to loopback; other protocols never', () => {
    assert.equal(gitRefusal({ protocol: 'https', host: 'any.example' }, undefined), undefined);
    for (const host of ['127.0.0.1', '127.0.0.1:1', 'localhost:80', '[::1]', '[::1]:8080']) {
      assert.equal(gitRefusal({ protocol: 'http', host }, undefined), undefined, host);
    }
    for (const host of ['evil.example', '127.0.0.1.evil.example', 'localhost.evil.example:80', '10.0.0.1', '[::2]']) {
      assert.match(gitRefusal({ protocol: 'http', host }, undefined) ?? '', /only over https/, host);
    }
    for (const protocol of ['ftp', 'ssh', 'file', '']) {
      assert.match(gitRefusal({ protocol, host: 'git.example.com' }, undefined) ?? '', /only https is answered/, protocol);
    }
  });

  test('tokenrelay.git.hosts: exact host, host:port, *.domain for subdomains, case-insensitive; an empty list answers nothing', () => {
    const hosts = ['git.example.com', 'git.example.com:8443', '*.corp.example', '[::1]:9'];
    for (const host of ['git.example.com', 'Git.Example.COM', 'git.example.com:8443', 'a.corp.example', 'a.b.corp.example']) {
      assert.equal(gitRefusal({ protocol: 'https', host }, hosts), undefined, host);
    }
    assert.equal(gitRefusal({ protocol: 'http', host: '[::1]:9' }, hosts), undefined);
    for (const host of ['git.example.com:444', 'corp.example', 'a.corp.example:8443', 'xcorp.example', 'git.example.com.evil']) {
      assert.match(gitRefusal({ protocol: 'https', host }, hosts) ?? '', /is not in tokenrelay\.git\.hosts/, host);
    }
    assert.match(gitRefusal({ protocol: 'https', host: 'git.example.com' }, []) ?? '', /not in tokenrelay\.git\.hosts \(empty\)/);
    for (const host of ['evil.example?.corp.example', 'evil.com:1.corp.example', 'evil.example/.corp.example', '*.corp.example', 'a@corp.example', '']) {
      assert.match(gitRefusal({ protocol: 'https', host }, hosts) ?? '', /which is not a host name/, host);
    }
    assert.match(gitRefusal({ protocol: 'http', host: 'git.example.com' }, hosts) ?? '', /only over https/, 'the list does not allow plain http');
  });

  test('host patterns', () => {
    for (const p of ['git.example.com', 'git.example.com:8443', '*.example.com', '127.0.0.1', '[::1]:8080', 'localhost']) assert.ok(isGitHostPattern(p), p);
    for (const p of ['', 'https://git.example.com', 'git.example.com/path', '*', '*.', 'a..b', 'host:99999', 'host:', '-a.example', 'a b', '*.[::1]', 'user@host']) {
      assert.ok(!isGitHostPattern(p), p);
    }
  });
});

describe('readGitHosts', () => {
  test('contributed as an application-scoped list, so a workspace cannot widen it', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const setting = pkg.contributes.configuration.properties['tokenrelay.git.hosts'];
    assert.equal(setting.scope, 'application');
    // VS Code answers [] for an unset array setting without a default, which would mean "no host":
    // the null default is how "unset: any https host" reaches readGitHosts.
    assert.deepEqual(setting.type, ['array', 'null']);
    assert.equal(setting.default, null);
    // A host, or { host, profile } naming the profile whose token it gets.
    assert.deepEqual(setting.items.anyOf.map((i: { type: string }) => i.type), ['string', 'object']);
    assert.deepEqual(setting.items.anyOf[1].required, ['host', 'profile']);
    assert.ok(setting.markdownDescription);
  });

  const read = (value: unknown) => readGitHosts((key) => (key === 'git.hosts' ? value : undefined));
  test('unset is undefined; a list is trimmed', () => {
    assert.equal(read(undefined), undefined);
    assert.equal(read(null), undefined);
    assert.deepEqual(read([' git.example.com ', '*.corp.example']), ['git.example.com', '*.corp.example']);
  });

  test('a bad value or entry is a config error naming it and the fix', () => {
    assert.throws(() => read('git.example.com'), (err: unknown) => err instanceof TokenRelayError && err.code === 'config' && /must be a list of host names.*For example/.test(err.message));
    for (const bad of [['https://git.example.com'], ['ok.example', 42], ['git.example.com/org']]) {
      assert.throws(() => read(bad), (err: unknown) => err instanceof TokenRelayError && err.code === 'config'
        && /tokenrelay\.git\.hosts contains .* which is not a host\[:port\] pattern; the git helper answers no host until it is fixed\. Use a host name/.test(err.message), JSON.stringify(bad));
    }
  });
});
