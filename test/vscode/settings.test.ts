// What VS Code is told in package.json matches the code, and which sign-in flow `auto` picks.
import './setup.ts';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { chooseFlow } from '../../src/vscode/signIn.ts';

describe('sign-in flow choice', () => {
  test('auto: loopback where the browser reaches this host\'s 127.0.0.1, device code otherwise', () => {
    assert.equal(chooseFlow('auto', undefined), 'loopback');
    assert.equal(chooseFlow('auto', 'ssh-remote'), 'deviceCode');
    assert.equal(chooseFlow('auto', 'codespaces'), 'deviceCode');
    assert.equal(chooseFlow('auto', 'wsl'), 'deviceCode');
    // code-server reports its server authority as the remote name
    assert.equal(chooseFlow('auto', '127.0.0.1:8080'), 'loopback');
    assert.equal(chooseFlow('auto', 'localhost:8080'), 'loopback');
    assert.equal(chooseFlow('auto', '[::1]:8080'), 'loopback');
    assert.equal(chooseFlow('auto', 'code.example.com'), 'deviceCode');
    assert.equal(chooseFlow('auto', '10.0.0.5:8080'), 'deviceCode');
    assert.equal(chooseFlow('loopback', 'ssh-remote'), 'loopback');
    assert.equal(chooseFlow('deviceCode', undefined), 'deviceCode');
  });
});

describe('package.json contributions', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

  test('commands, activation and authentication as the e2e suite expects them', () => {
    // The palette shows "<category>: <title>"; every command is in the one category.
    const titles = Object.fromEntries(pkg.contributes.commands.map((c: { command: string; title: string; category?: string }) =>
      [c.command, c.category ? `${c.category}: ${c.title}` : c.title]));
    assert.ok(pkg.contributes.commands.every((c: { category?: string }) => c.category === 'Token Relay'), 'every command is in the Token Relay category');
    assert.equal(titles['tokenrelay.signIn'], 'Token Relay: Sign In');
    assert.equal(titles['tokenrelay.signOut'], 'Token Relay: Sign Out');
    assert.equal(titles['tokenrelay.refreshNow'], 'Token Relay: Refresh Token Now');
    assert.equal(titles['tokenrelay.showLog'], 'Token Relay: Show Log');
    assert.ok(titles['tokenrelay.statusMenu']);
    assert.equal(titles['tokenrelay.setClientSecret'], 'Token Relay: Set Client Secret');
    assert.ok(pkg.activationEvents.includes('onStartupFinished'));
    assert.deepEqual(pkg.contributes.authentication, [{ id: 'tokenrelay', label: 'Token Relay' }]);
  });

  test('every setting has a description; defaults and enums match the code', () => {
    const props = pkg.contributes.configuration.properties;
    for (const key of ['issuer', 'clientId', 'scopes', 'resource', 'endpoints', 'signInFlow', 'redirectUri', 'refreshSkewSeconds', 'refreshTokenReuseGraceSeconds']) {
      const p = props[`tokenrelay.${key}`];
      assert.ok(p, `tokenrelay.${key} is contributed`);
      assert.ok(p.description || p.markdownDescription, `tokenrelay.${key} has a description`);
    }
    assert.equal(props['tokenrelay.scopes'].default, undefined, 'the default depends on the server (scopesFor)');
    assert.deepEqual(props['tokenrelay.signInFlow'].enum, ['auto', 'loopback', 'deviceCode']);
    assert.deepEqual(props['tokenrelay.clientAuthMethod'].enum, ['auto', 'none', 'client_secret_basic', 'client_secret_post']);
    assert.equal(props['tokenrelay.clientAuthMethod'].scope, 'application');
    assert.ok(!Object.keys(props).some((k) => /secret/i.test(k)), 'no setting holds a secret');
    assert.equal(props['tokenrelay.refreshSkewSeconds'].default, 60);
    assert.equal(props['tokenrelay.refreshSkewSeconds'].minimum, 0);
    assert.equal(props['tokenrelay.refreshTokenReuseGraceSeconds'].default, 0, 'strict unless the user says otherwise');
    // A setting left empty shows no error in the Settings UI (format: uri flags ""): a fresh
    // install must not greet the user with red boxes. The patterns still check what is typed.
    for (const key of ['tokenrelay.issuer', 'tokenrelay.resource']) {
      assert.equal(props[key].format, undefined, key);
      assert.ok(new RegExp(props[key].pattern).test(''), key);
    }
    assert.ok(!new RegExp(props['tokenrelay.issuer'].pattern).test('http://sso.example.com'), 'plain http to a remote issuer is flagged');
    assert.equal(props['tokenrelay.redirectUri'].scope, 'application', 'a workspace cannot point the sign-in at another listener');
    const pattern = new RegExp(props['tokenrelay.redirectUri'].pattern);
    assert.ok(pattern.test('http://127.0.0.1:8765/callback') && pattern.test('http://localhost:80') && pattern.test(''));
    assert.ok(!pattern.test('https://127.0.0.1:8765/cb') && !pattern.test('http://example.com:8765/cb') && !pattern.test('http://127.0.0.1/cb'));
    assert.deepEqual(Object.keys(props['tokenrelay.endpoints'].properties).sort(),
      ['authorization', 'deviceAuthorization', 'introspection', 'revocation', 'token', 'userinfo']);
  });
});
