// Profiles in a window, against two real servers at once: oidc-provider as the profile "default"
// (the top-level settings) and the plain OAuth 2.0 server as tokenrelay.profiles.plain. Sign-in to
// each, the `profile:` scope, labels in the Accounts menu and the status bar, sign-out and edits of
// one profile leaving the other alone (the servers' own counters say whether anything was revoked),
// and bad input named without anything stored changing.
import './setup.ts';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { fake } from './fake/vscode.ts';
import { World, allLogText, browserErrors, browserLogin, idpSettings, type TestWindow } from './helpers.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { startPlainServer, type PlainServer } from '../oauth2server/server.ts';
import { completeAuthorization } from '../oauth2server/login.ts';

let idp: Idp;
let plain: PlainServer;
let world: World;

before(async () => {
  idp = await startIdp({ accessTokenTtl: 60 });
  plain = await startPlainServer({ accessTokenTtl: 300 });
});
after(async () => {
  await idp.close();
  await plain.close();
});
beforeEach(() => {
  fake.reset();
  browserErrors.length = 0;
  world = new World('isolated');
  idp.resetCounters();
  plain.resetCounters();
});
afterEach(async () => {
  await world.close();
  const log = allLogText();
  for (const token of [...idp.issuedTokens(), ...plain.issuedTokens()]) assert.ok(!log.includes(token), 'a token value reached the log');
});

function plainProfile(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { authorization, token, revocation, introspection } = plain.endpoints;
  return { issuer: plain.issuer, clientId: plain.clientId, endpoints: { authorization, token, revocation, introspection }, signInFlow: 'loopback', ...extra };
}

function bothProfiles(plainExtra: Record<string, unknown> = {}): Record<string, unknown> {
  return idpSettings(idp, { 'tokenrelay.profiles': { plain: plainProfile(plainExtra) } });
}

/** The plain server's "browser": it approves `login` and follows the redirect back. */
function plainBrowser(login: string): (url: string) => boolean {
  return (url) => {
    void (async () => { await fetch(await completeAuthorization(url, { login })); })().catch((err) => { browserErrors.push(String(err)); });
    return true;
  };
}

async function signInBoth(win: TestWindow) {
  fake.openExternal = browserLogin('alice');
  const alice = await win.provider.createSession(['openid'], {});
  fake.openExternal = plainBrowser('bob');
  const bob = await win.provider.createSession(['profile:plain'], {});
  assert.deepEqual(browserErrors, []);
  return { alice, bob };
}

/** What is stored: every file under the store with its size and mtime, and the secrets. */
function storedState(win: TestWindow): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const s = statSync(path);
      if (s.isDirectory()) walk(path);
      else if (s.isFile()) files.push(`${path} ${s.size} ${s.mtimeMs} ${readFileSync(path).toString('base64').length}`);
    }
  };
  walk(world.store);
  return JSON.stringify([files, [...win.secrets.data.entries()].sort()]);
}

describe('two identity providers as profiles in one window', () => {
  test('sign in to both; the profile: scope picks one; labels name the profile; signing out of one leaves the other', async () => {
    fake.setSettings(bothProfiles());
    const win = await world.openWindow();
    const { alice, bob } = await signInBoth(win);
    assert.equal(alice.account.label, 'alice');
    assert.equal(bob.account.label, 'bob (plain)', 'the Accounts menu tells the profiles apart');
    assert.ok(bob.scopes.includes('profile:plain'), 'the session says which profile it is');
    assert.ok(!alice.scopes.some((s) => s.startsWith('profile:')));
    assert.equal(plain.counters().authorizationCodeGrants, 1);
    assert.equal(idp.counters().authorizationCodeGrants, 1);

    const all = await win.provider.getSessions(undefined, {});
    assert.deepEqual(all.map((s) => s.account.label).sort(), ['alice', 'bob (plain)']);
    assert.deepEqual((await win.provider.getSessions(['profile:plain'], {})).map((s) => s.id), [bob.id]);
    assert.deepEqual((await win.provider.getSessions(['openid'], {})).map((s) => s.id), [alice.id], 'plain does not cover openid');
    assert.deepEqual((await win.provider.getSessions(['profile:default', 'openid'], {})).map((s) => s.id), [alice.id]);
    assert.deepEqual((await win.provider.getSessions(undefined, { account: { id: bob.account.id, label: 'bob (plain)' } })).map((s) => s.id), [bob.id]);

    const plainToken = await win.api.getAccessToken({ profile: 'plain' });
    await fake.waitFor(() => win.item.text === '$(key) bob (plain) +1', 5000, 'the status bar shows the account a consumer used last');
    const defaultToken = await win.api.getAccessToken();
    await fake.waitFor(() => win.item.text === '$(key) alice +1', 5000, 'and follows the next one');
    assert.equal((await plain.introspect(plainToken)).active, true, 'the plain profile\'s token is the plain server\'s');
    assert.equal((await idp.introspect(defaultToken)).active, true);
    assert.equal((await idp.introspect(plainToken)).active, false, 'and not oidc-provider\'s');
    // Markdown-escaped in the tooltip: "bob \(plain\)".
    await fake.waitFor(() => /Other accounts: bob \\\(plain\\\) \(signed in\)/.test(win.item.tooltipText), 5000, 'the tooltip lists the other profile\'s account');
    assert.match(win.item.text, /\+1$/, 'the status bar counts the other account');

    await win.provider.removeSession(bob.id);
    assert.equal(plain.counters().revocationRequests, 1, 'the plain grant was revoked at its server');
    assert.equal(idp.counters().grantRevocations, 0, 'nothing was revoked at oidc-provider');
    assert.equal(await win.api.getAccessToken(), defaultToken, 'the default profile is still signed in');
    assert.deepEqual((await win.provider.getSessions(undefined, {})).map((s) => s.id), [alice.id]);
    await assert.rejects(win.api.getAccessToken({ profile: 'plain' }), /not signed in/i);
  });

  test('two sign-ins asked at once, one per profile: each gets its own profile\'s account, one browser page after the other', async () => {
    fake.setSettings(bothProfiles());
    const win = await world.openWindow();
    const idpBrowser = browserLogin('alice');
    const plainPage = plainBrowser('bob');
    const opened: string[] = [];
    fake.openExternal = (url: string) => {
      const isPlain = url.startsWith(plain.endpoints.authorization);
      opened.push(isPlain ? 'plain' : 'default');
      return isPlain ? plainPage(url) : idpBrowser(url);
    };
    const [alice, bob] = await Promise.all([win.provider.createSession(['openid'], {}), win.provider.createSession(['profile:plain'], {})]);
    assert.deepEqual([alice.account.label, bob.account.label], ['alice', 'bob (plain)']);
    assert.deepEqual(opened, ['default', 'plain'], 'the second waited for the first');
    assert.deepEqual(browserErrors, []);
  });

  test('editing one profile leaves the other\'s sessions alone; a broken profile stops only itself', async () => {
    fake.setSettings(bothProfiles());
    const win = await world.openWindow();
    const { alice, bob } = await signInBoth(win);
    const bobToken = await win.api.getAccessToken({ profile: 'plain' });

    // The default profile moves to another issuer: its own account is signed out, plain's is not.
    fake.setSettings({ 'tokenrelay.issuer': idp.issuer.replace('127.0.0.1', 'localhost') });
    await fake.waitFor(() => fake.messagesMatching(/signed out alice because tokenrelay\.issuer or tokenrelay\.clientId changed/).length > 0, 10_000, 'default signed out');
    await fake.waitFor(() => win.sessionEvents.find((e) => e.removed?.some((s) => s.id === alice.id)), 5000, 'alice removed');
    assert.equal(plain.counters().revocationRequests, 0, 'nothing was revoked at the plain server');
    assert.equal(await win.api.getAccessToken({ profile: 'plain' }), bobToken, 'plain still serves its token, no new sign-in');
    assert.ok(!win.sessionEvents.some((e) => e.removed?.some((s) => s.id === bob.id)));

    // A typo in plain's settings stops plain alone, named; fixing it brings the session back without a sign-in.
    fake.setSettings({ 'tokenrelay.issuer': idp.issuer, 'tokenrelay.profiles': { plain: plainProfile({ signInFlow: 'bogus' }) } });
    await fake.waitFor(() => win.service.profileProblems().some((p) => p.profile === 'plain'), 5000, 'plain is broken');
    await assert.rejects(win.api.getAccessToken({ profile: 'plain' }), /Profile "plain" \(tokenrelay\.profiles\.plain\): tokenrelay\.signInFlow "bogus"/);
    fake.openExternal = browserLogin('alice');
    await win.provider.createSession(['openid'], {});
    assert.equal((await idp.introspect(await win.api.getAccessToken())).active, true, 'the default profile works beside the broken one');
    fake.setSettings({ 'tokenrelay.profiles': { plain: plainProfile({ refreshSkewSeconds: 30 }) } });
    await fake.waitFor(() => !win.service.profileProblems().some((p) => p.profile === 'plain'), 5000, 'plain fixed');
    assert.equal(await win.api.getAccessToken({ profile: 'plain' }), bobToken, 'fixed: the same session, never signed out');
    assert.equal(plain.counters().revocationRequests, 0);
    assert.equal(plain.counters().authorizationCodeGrants, 1, 'no second sign-in at the plain server');
  });

  test('moving the default configuration into a profile keeps its sessions (the identity is still in use)', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    fake.openExternal = browserLogin('alice');
    const alice = await win.provider.createSession(['openid'], {});
    const token = await win.api.getAccessToken();
    idp.resetCounters();
    const { authorization, token: tokenUrl, revocation, introspection } = plain.endpoints;
    fake.setSettings({
      'tokenrelay.issuer': plain.issuer, 'tokenrelay.clientId': plain.clientId, 'tokenrelay.scopes': undefined,
      'tokenrelay.endpoints': { authorization, token: tokenUrl, revocation, introspection },
      'tokenrelay.profiles': { work: { issuer: idp.issuer, clientId: idp.clientId, scopes: ['openid', 'profile', 'offline_access', 'api:read'], signInFlow: 'loopback' } },
    });
    await fake.waitFor(() => win.service.accounts().some((a) => a.profile === 'work' && a.signedIn), 5000, 'alice under work');
    assert.equal(await win.api.getAccessToken({ profile: 'work' }), token, 'the same session, now the profile "work"');
    assert.equal(idp.counters().grantRevocations, 0, 'nothing was revoked');
    assert.equal(fake.messagesMatching(/signed out/).length, 0, 'nobody was told they were signed out');
    assert.equal(win.service.account(alice.id)?.profile, 'work');
  });
});

describe('the CLI\'s configuration file', () => {
  test('a window copies its profiles there under the same names; one the file has is never rewritten; a broken file is left alone', async () => {
    mkdirSync(dirname(world.configFile), { recursive: true, mode: 0o700 });
    const mine = { issuer: 'https://mine.example', clientId: 'mine' };
    writeFileSync(world.configFile, JSON.stringify({ profiles: { plain: mine } }));
    fake.setSettings(bothProfiles({ 'git.hosts': ['git.plain.example'] }));
    const win = await world.openWindow();
    await fake.waitFor(() => /Added the profile\(s\) "default" to /.test(win.channel.text), 5000, 'default copied');
    const file = JSON.parse(readFileSync(world.configFile, 'utf8')) as { profiles: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(file.profiles).sort(), ['default', 'plain']);
    assert.deepEqual([file.profiles.default.issuer, file.profiles.default.clientId, file.profiles.default.scopes], [idp.issuer, idp.clientId, ['openid', 'profile', 'offline_access', 'api:read']]);
    assert.deepEqual(file.profiles.plain, mine, 'the file\'s own "plain" is kept');
    assert.match(win.channel.text, /The profile "plain" in .* names another issuer or client than VS Code's/);

    // Another profile in VS Code: added as the file's nested form ("git.hosts" → git.hosts).
    writeFileSync(world.configFile, JSON.stringify({ profiles: {} }));
    fake.setSettings({ 'tokenrelay.profiles': { plain: plainProfile({ 'git.hosts': ['git.plain.example'] }) } });
    await fake.waitFor(() => Object.keys((JSON.parse(readFileSync(world.configFile, 'utf8')) as { profiles: object }).profiles).length === 2, 5000, 'both copied');
    const again = JSON.parse(readFileSync(world.configFile, 'utf8')) as { profiles: Record<string, Record<string, unknown>> };
    assert.deepEqual(again.profiles.plain.git, { hosts: ['git.plain.example'] });
    assert.equal(statSync(world.configFile).mode & 0o777, 0o600);

    writeFileSync(world.configFile, '{"profiles": ');
    fake.setSettings({ 'tokenrelay.profiles': { plain: plainProfile({ refreshSkewSeconds: 20 }) } });
    await fake.waitFor(() => /The profiles were not copied to .*is not valid JSON/.test(win.channel.text), 5000, 'the broken file named');
    assert.equal(readFileSync(world.configFile, 'utf8'), '{"profiles": ', 'left as it was');
  });
});

describe('bad input', () => {
  test('an unknown profile, by scope or by name, is named with the profiles there are; nothing stored changes', async () => {
    fake.setSettings(bothProfiles());
    const win = await world.openWindow();
    await signInBoth(win);
    const before = storedState(win);
    const counters = [idp.counters(), plain.counters()];
    fake.openExternal = () => { throw new Error('no browser may open for an unknown profile'); };

    await assert.rejects(Promise.resolve(win.provider.createSession(['profile:nope'], {})), /no profile "nope" \(it has "default", "plain"\).*Add it to tokenrelay\.profiles/);
    assert.deepEqual(await win.provider.getSessions(['profile:nope'], {}), [], 'a provider answers "no session"');
    await assert.rejects(win.api.getAccessToken({ profile: 'nope' }), /no profile "nope"/);
    await assert.rejects(win.api.getAccessToken({ scopes: ['profile:nope'] }), /no profile "nope"/);
    await assert.rejects(win.api.getAccessToken({ scopes: ['profile:plain', 'profile:default'] }), /more than one profile/);
    await assert.rejects(win.api.getAccessToken({ scopes: ['profile:'] }), /an empty profile/);
    assert.equal(storedState(win), before, 'nothing stored changed');
    assert.deepEqual([idp.counters(), plain.counters()], counters, 'nothing reached either server');
    assert.doesNotMatch(allLogText(), /\n\s+at /);
  });

  test('a duplicate profile name or a second profile with the same issuer and client is named, and stops only that profile', async () => {
    fake.setSettings(bothProfiles());
    const win = await world.openWindow();
    await signInBoth(win);
    const before = storedState(win);
    const problems = () => win.service.profileProblems().map((p) => p.problem.message).join('\n');

    fake.setSettings({ 'tokenrelay.profiles': { plain: plainProfile(), Default: plainProfile() } });
    await fake.waitFor(() => /tokenrelay\.profiles\.Default repeats the profile "default"/.test(problems()), 5000, 'the repeated default named');
    fake.setSettings({ 'tokenrelay.profiles': { plain: plainProfile(), PLAIN: plainProfile() } });
    await fake.waitFor(() => /tokenrelay\.profiles\.PLAIN repeats the profile "plain" \(profile names ignore letter case\)/.test(problems()), 5000, 'the case twin named');
    fake.setSettings({ 'tokenrelay.profiles': { plain: plainProfile(), copy: { issuer: idp.issuer, clientId: idp.clientId } } });
    await fake.waitFor(() => /Profile "copy" uses the same issuer and client id as profile "default"/.test(problems()), 5000, 'the shared identity named');
    await assert.rejects(win.api.getAccessToken({ profile: 'copy' }), /same issuer and client id.*--resource/);

    // The healthy profiles kept serving throughout; nothing stored changed.
    assert.equal((await plain.introspect(await win.api.getAccessToken({ profile: 'plain' }))).active, true);
    assert.equal((await idp.introspect(await win.api.getAccessToken())).active, true);
    assert.equal(storedState(win), before);
    assert.equal(fake.messagesMatching(/signed out/).length, 0);
  });
});
