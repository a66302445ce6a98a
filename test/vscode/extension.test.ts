// The VS Code surface end to end against the real test IdP, with a fake `vscode` API: activation,
// the authentication provider, sign-in flows and their failures, the status bar, commands, other
// windows (a second extension instance on the same globalStorage), corrupt secrets, settings changes.
import './setup.ts';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { fake } from './fake/vscode.ts';
import { World, allLogText, browserErrors, browserLogin, idpSettings, type TestWindow } from './helpers.ts';
import { startIdp, type Idp } from '../idp/server.ts';
import { approveDeviceCode } from '../idp/login.ts';
import { CHECK_SETTINGS, OPEN_SETTINGS, TRY_DEVICE_CODE } from '../../src/vscode/signIn.ts';
import { BASIC_CLIENT_ID } from '../idp/config.ts';
import { createServer } from 'node:http';

const SCOPES = ['openid', 'profile', 'offline_access', 'api:read'];

let idp: Idp;
let world: World;

before(async () => { idp = await startIdp({ accessTokenTtl: 60 }); });
after(async () => { await idp.close(); });
beforeEach(() => {
  fake.reset();
  browserErrors.length = 0;
  world = new World('isolated');
});
afterEach(async () => {
  await world.close();
  // Whatever happened, no token may have reached any log channel.
  const log = allLogText();
  for (const token of idp.issuedTokens()) assert.ok(!log.includes(token), 'a token value reached the log');
});

function portOf(authorizationUrl: string): number {
  return Number(new URL(new URL(authorizationUrl).searchParams.get('redirect_uri')!).port);
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

async function signIn(win: TestWindow, login: string) {
  fake.openExternal = browserLogin(login);
  const session = await win.provider.createSession(['openid'], {});
  assert.deepEqual(browserErrors, []);
  return session;
}

const lastEvent = (win: TestWindow) => win.sessionEvents.at(-1);

describe('activation and configuration', () => {
  test('registers the provider, status bar item, commands and log; activation is measured', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    const provider = fake.authProviders[0]!;
    assert.equal(provider.id, 'tokenrelay');
    assert.equal(provider.label, 'Token Relay');
    assert.deepEqual(provider.options, { supportsMultipleAccounts: true });
    assert.equal(win.item.id, 'status');
    assert.equal(win.item.name, 'Token Relay');
    assert.equal(win.item.alignment, 2 /* Right */);
    assert.equal(win.item.priority, 100);
    assert.equal(win.channel.name, 'Token Relay');
    assert.deepEqual(win.channel.options, { log: true });
    for (const id of ['signIn', 'signOut', 'refreshNow', 'showLog', 'statusMenu', 'openSettings', 'setClientSecret']) {
      assert.ok(fake.commands.get(`tokenrelay.${id}`)?.length, `tokenrelay.${id} registered`);
    }
    await fake.waitFor(() => win.item.visible, 5000, 'status bar item shown');
    assert.equal(win.item.text, '$(account) Token Relay: Sign in');
    assert.equal(win.item.command, 'tokenrelay.signIn');
    assert.match(win.channel.text, /\[info\] Activated in \d+ ms/);
    assert.ok(win.activationMs < 1000, `activation took ${win.activationMs} ms`);
    assert.deepEqual(await win.provider.getSessions(undefined, {}), []);
  });

  test('a fresh install: a neutral "Set up" item (no error), and a sign-in opens the set-up walkthrough', async () => {
    const win = await world.openWindow();
    await fake.waitFor(() => win.item.visible, 5000, 'status bar item shown');
    assert.equal(win.item.text, '$(key) Token Relay: Set up');
    assert.equal(win.item.backgroundColor, undefined, 'not an error');
    assert.equal(win.item.command, 'tokenrelay.setUp');
    assert.match(win.item.tooltipText, /not set up yet/);
    assert.match(win.item.tooltipText, /command:tokenrelay\.setUp/);
    // The Accounts menu offers it too: a session request is placed while nothing is configured.
    await fake.waitFor(() => fake.sessionRequests.length > 0, 2000, 'Accounts menu request placed');

    await assert.rejects(Promise.resolve(win.provider.createSession([], {})), /not configured yet/);
    await fake.waitFor(() => fake.executed.find((c) => c.id === 'workbench.action.openWalkthrough'), 2000, 'walkthrough opened');
    assert.deepEqual(fake.executed.find((c) => c.id === 'workbench.action.openWalkthrough')!.args, ['tokenrelay.tokenrelay#setup', false]);
    assert.equal(fake.messages.filter((m) => m.severity === 'error').length, 0, 'no error message');
    await assert.rejects(win.api.getAccessToken(), /not configured yet/);
    assert.doesNotMatch(fake.messages.map((m) => m.message).join('\n'), /\n\s+at /, 'no stack trace shown');
  });

  test('invalid settings show the problem without signing anyone out; fixing them restores the session', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    const session = await signIn(win, 'alice');
    fake.setSettings({ 'tokenrelay.refreshSkewSeconds': -1 });
    await fake.waitFor(() => win.item.text === '$(error) Token Relay', 5000, 'config error shown');
    assert.match(win.item.tooltipText, /refreshSkewSeconds must be a number of seconds/);
    assert.equal(lastEvent(win)?.removed?.length, 1, 'the session is unavailable meanwhile');
    fake.setSettings({ 'tokenrelay.refreshSkewSeconds': 30 });
    await fake.waitFor(() => win.item.text === '$(key) alice', 5000, 'signed in again');
    const [again] = await win.provider.getSessions(undefined, {});
    assert.equal(again?.accessToken, session.accessToken, 'same grant: nobody was signed out');
    assert.equal((await idp.introspect(session.accessToken)).active, true);
  });
});

describe('sign-in', () => {
  test('loopback createSession: session, status bar, API, secret layout; the listener closes', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    const session = await signIn(win, 'alice');

    assert.equal(session.account.label, 'alice');
    assert.equal(session.account.id, 'alice');
    assert.deepEqual(session.scopes, SCOPES);
    assert.match(session.id, /^[A-Za-z0-9_-]{24}$/);
    const info = await idp.introspect(session.accessToken);
    assert.equal(info.active, true);
    assert.equal(info.sub, 'alice');

    const authUrl = fake.opened[0]!;
    assert.match(authUrl, /code_challenge_method=S256/);
    assert.match(authUrl, /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fcallback/);
    assert.equal(await isListening(portOf(authUrl)), false, 'the loopback listener is closed after sign-in');

    assert.deepEqual(lastEvent(win)?.added?.map((s) => s.id), [session.id]);
    const sessions = await win.provider.getSessions(undefined, {});
    assert.deepEqual(sessions.map((s) => s.accessToken), [session.accessToken]);
    assert.equal((await win.provider.getSessions(['api:read'], {})).length, 1);
    assert.deepEqual(await win.provider.getSessions(['admin'], {}), [], 'scopes outside tokenrelay.scopes get no session');
    assert.deepEqual(await win.provider.getSessions(undefined, { account: { id: 'bob', label: 'bob' } }), []);

    assert.equal(win.item.text, '$(key) alice');
    assert.match(win.item.tooltipText, /Account: alice/);
    assert.match(win.item.tooltipText, new RegExp(`Issuer: ${idp.issuer.replace(/[.]/g, '\\.')}`));
    assert.match(win.item.tooltipText, /Access token expires in \d+:\d\d/);
    assert.match(win.item.tooltipText, /Last refresh: .* by this window/);

    assert.equal(await win.api.getAccessToken(), session.accessToken);
    assert.equal(await win.api.getAccessToken({ scopes: ['api:read'] }), session.accessToken);
    await assert.rejects(win.api.getAccessToken({ scopes: ['admin'] }), /not configured for the scope\(s\) admin.*tokenrelay\.scopes/);

    // SecretStorage holds only the slot's seal key; the tokens are sealed in the slot directory.
    const stored = await win.secrets.get(`tokenrelay/v2/${session.id}/key`);
    assert.ok(stored, 'the seal key is in SecretStorage under tokenrelay/v2/<slot>/key');
    assert.equal(Buffer.from(JSON.parse(stored).key, 'base64').length, 32);
    const allSecrets = [...world.hub.data.values()].join('\n');
    for (const token of [session.accessToken, ...idp.issuedTokens()]) assert.ok(!allSecrets.includes(token), 'no token in SecretStorage');
    assert.match(win.channel.text, /Acquired token refresh lock/);
    assert.match(win.channel.text, /Signed in as alice/);
  });

  test('the IdP refuses (access_denied): the message names it and offers device code; no listener left', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    fake.openExternal = browserLogin('alice', { abort: true });
    await assert.rejects(Promise.resolve(win.provider.createSession(['openid'], {})), /access_denied/);
    const [shown] = fake.messagesMatching(/Token Relay sign-in failed/);
    assert.ok(shown, 'a failure message is shown');
    assert.match(shown.message, /The identity provider refused sign-in \(access_denied/);
    assert.deepEqual(shown.items, [TRY_DEVICE_CODE]);
    assert.equal(await isListening(portOf(fake.opened[0]!)), false);
    assert.equal(win.item.text, '$(account) Token Relay: Sign in');
  });

  test('tokenrelay.redirectUri on a port another program holds: the message says so and offers device code; no browser opens', async () => {
    const squatter = createServer((_req, res) => res.end('someone else'));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as { port: number };
    try {
      fake.setSettings(idpSettings(idp, { 'tokenrelay.redirectUri': `http://127.0.0.1:${port}/callback` }));
      const win = await world.openWindow();
      await assert.rejects(Promise.resolve(win.provider.createSession(['openid'], {})), /is in use/);
      const [shown] = fake.messagesMatching(/Token Relay sign-in failed/);
      assert.match(shown!.message, new RegExp(`Port ${port} of tokenrelay\\.redirectUri .* is in use by another program.*sign in with a device code`));
      assert.deepEqual(shown!.items, [OPEN_SETTINGS, TRY_DEVICE_CODE]);
      assert.equal(fake.opened.length, 0);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  test('the IdP answers invalid_scope: the message names it and the setting to check', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    fake.openExternal = (url) => {
      const params = new URL(url).searchParams;
      const back = new URL(params.get('redirect_uri')!);
      back.search = new URLSearchParams({ error: 'invalid_scope', error_description: 'api:write is not allowed', state: params.get('state')!, iss: idp.issuer }).toString();
      void fetch(back).catch(() => undefined);
      return true;
    };
    await assert.rejects(Promise.resolve(win.provider.createSession(['openid'], {})), /invalid_scope/);
    const [shown] = fake.messagesMatching(/invalid_scope/);
    assert.match(shown!.message, /invalid_scope: api:write is not allowed.*Check tokenrelay\.scopes/);
  });

  test('invalid_client (device code): the message names it and points at tokenrelay.clientId', async () => {
    fake.setSettings(idpSettings(idp, { 'tokenrelay.clientId': 'no-such-client', 'tokenrelay.signInFlow': 'deviceCode' }));
    const win = await world.openWindow();
    await fake.commands.get('tokenrelay.signIn')!.at(-1)!();
    const [shown] = fake.messagesMatching(/invalid_client/);
    assert.ok(shown, `messages: ${fake.messages.map((m) => m.message).join(' | ')}`);
    assert.match(shown.message, /Check tokenrelay\.clientId/);
    assert.deepEqual(shown.items, ['Open Settings', 'Having trouble? Try browser sign-in']);
    assert.equal(win.item.text, '$(account) Token Relay: Sign in');
    // The failure stays readable after the notification is gone, until the next attempt.
    assert.match(win.item.tooltipText, /Last sign-in failed: .*invalid\\_client/);
  });

  test('an unreachable issuer at sign-in: "Cannot reach the issuer", Open Settings, and the tooltip keeps it', async () => {
    fake.setSettings(idpSettings(idp, { 'tokenrelay.issuer': 'http://127.0.0.1:1/realms/none' }));
    const win = await world.openWindow();
    await fake.commands.get('tokenrelay.signIn')!.at(-1)!();
    const [shown] = fake.messagesMatching(/Cannot reach the issuer http:\/\/127\.0\.0\.1:1\/realms\/none/);
    assert.ok(shown, `messages: ${fake.messages.map((m) => m.message).join(' | ')}`);
    assert.doesNotMatch(shown.message, /keeps the session/, 'nobody is signed in: no refresh-path words');
    assert.match(shown.message, /Check tokenrelay\.issuer/);
    assert.deepEqual(shown.items, ['Open Settings']);
    assert.match(win.item.tooltipText, /Last sign-in failed: Cannot reach the issuer/);
  });

  test('the user closes the browser tab: cancelling the progress notification stops sign-in and the listener', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    fake.openExternal = () => true; // the tab opens, and is closed without signing in
    const pending = Promise.resolve(win.provider.createSession(['openid'], {}));
    const progress = await fake.waitFor(() => fake.progresses.find((p) => p.options.cancellable && !p.done), 5000, 'progress notification');
    assert.match(progress.options.title ?? '', /Signing in with your browser/);
    await fake.waitFor(() => fake.opened.length > 0, 5000, 'browser opened');
    assert.equal(await isListening(portOf(fake.opened[0]!)), true, 'listening during sign-in');
    progress.cancel();
    await assert.rejects(pending, (err: Error) => err.name === 'Canceled');
    assert.equal(await isListening(portOf(fake.opened[0]!)), false, 'no listener stays open');
    const [shown] = fake.messagesMatching(/cancelled/);
    assert.deepEqual(shown?.items, [TRY_DEVICE_CODE]);
  });

  test('the browser page shows the IdP\'s own error and never redirects: after a while Check Settings and device code are offered', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow({ signInStillWaitingMs: 300 });
    fake.openExternal = () => true; // the tab opens on an error page: no redirect ever comes
    fake.respond = (m) => (m.items.includes(CHECK_SETTINGS) ? CHECK_SETTINGS : undefined);
    const pending = Promise.resolve(win.provider.createSession(['openid'], {}));
    const progress = await fake.waitFor(() => fake.progresses.find((p) => p.options.cancellable && !p.done), 5000, 'progress notification');
    const hint = await fake.waitFor(() => fake.messagesMatching(/still waiting for the browser sign-in/)[0], 5000, 'the still-waiting hint');
    assert.deepEqual(hint.items, [CHECK_SETTINGS, TRY_DEVICE_CODE]);
    await fake.waitFor(() => fake.executed.find((c) => c.id === 'workbench.action.openSettings'), 2000, 'settings opened');
    assert.equal(progress.done, false, 'the sign-in still waits: the user may yet finish it');
    progress.cancel();
    await assert.rejects(pending, (err: Error) => err.name === 'Canceled');
  });

  test('"Complete the sign-in in the browser tab" shows only once the user allowed opening the page', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    const HINT = /Complete the sign-in in the browser tab that opened/;
    let allow!: (opened: boolean) => void;
    const login = browserLogin('alice');
    // VS Code's "open external website?" dialog: openExternal resolves when the user answers it.
    fake.openExternal = (url) => new Promise<boolean>((resolve) => { allow = (opened) => resolve(opened && login(url)); });
    const pending = Promise.resolve(win.provider.createSession(['openid'], {}));
    const progress = await fake.waitFor(() => fake.progresses.find((p) => p.options.cancellable && !p.done), 5000, 'progress notification');
    await fake.waitFor(() => fake.opened.length > 0, 5000, 'openExternal called');
    assert.ok(!progress.reports.some((r) => HINT.test(r.message ?? '')), 'no hint while the dialog waits');
    allow(true);
    await fake.waitFor(() => progress.reports.some((r) => HINT.test(r.message ?? '')), 5000, 'the hint after Open');
    assert.equal((await pending).account.label, 'alice');
    assert.deepEqual(browserErrors, []);
  });

  test('the user declines opening the page: no browser hint, sign-in stops and says why', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    fake.openExternal = () => false; // "Cancel" in VS Code's dialog
    await assert.rejects(Promise.resolve(win.provider.createSession(['openid'], {})));
    const progress = fake.progresses.find((p) => p.options.title === 'Token Relay: Signing in with your browser');
    assert.ok(progress, 'the sign-in ran');
    assert.deepEqual(progress.reports.filter((r) => /browser tab/.test(r.message ?? '')), []);
    const [shown] = fake.messagesMatching(/The browser was not opened, so sign-in stopped/);
    assert.ok(shown, `messages: ${fake.messages.map((m) => m.message).join(' | ')}`);
    assert.equal(await isListening(portOf(fake.opened[0]!)), false, 'no listener stays open');
  });

  test('"Having trouble? Try device code" after a cancel runs the device flow: modal, Copy & Open, polling', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    fake.openExternal = () => true;
    let modal: { message: string; detail?: string } | undefined;
    fake.respond = (m) => {
      if (m.items.includes(TRY_DEVICE_CODE)) return TRY_DEVICE_CODE;
      if (m.options?.modal) { modal = { message: m.message, detail: m.options.detail }; return 'Copy & Open'; }
      return undefined;
    };
    const first = Promise.resolve(win.provider.createSession(['openid'], {}));
    const progress = await fake.waitFor(() => fake.progresses.find((p) => p.options.cancellable && !p.done), 5000, 'progress');
    await fake.waitFor(() => fake.opened.length > 0, 5000, 'browser opened');
    fake.openExternal = (url) => {
      if (url.includes('/device')) void approveDeviceCode(idp.issuer, new URL(url).searchParams.get('user_code')!, 'device-user').catch((e) => browserErrors.push(String(e)));
      return true;
    };
    progress.cancel();
    await assert.rejects(first);
    await fake.waitFor(() => win.item.text === '$(key) device-user', 30_000, 'device sign-in');
    assert.deepEqual(browserErrors, []);
    assert.ok(modal, 'a modal showed the code');
    assert.match(modal.message, /your sign-in code is [A-Z]{4}-[A-Z]{4}/);
    assert.equal(fake.clipboard, /([A-Z]{4}-[A-Z]{4})/.exec(modal.message)![1], 'Copy & Open copied the code');
    assert.match(modal.detail ?? '', /expires in about \d+ minute/);
    const device = fake.progresses.find((p) => p.options.title === 'Token Relay: Device sign-in');
    assert.ok(device?.reports.some((r) => /waiting for approval \(code expires in \d+:\d\d\)/.test(r.message ?? '')));
    const [session] = await win.provider.getSessions(undefined, {});
    assert.equal(session?.account.label, 'device-user');
  });
});

describe('other windows', () => {
  test('a second window discovers the sign-in (stale secrets, via the journal + peer) and follows refresh and sign-out', async () => {
    fake.setSettings(idpSettings(idp));
    const b = await world.openWindow(); // opened first: its secret view never sees the sign-in
    const a = await world.openWindow();
    const session = await signIn(a, 'alice');

    const added = await fake.waitFor(() => b.sessionEvents.find((e) => e.added?.length), 5000, 'B: session added');
    assert.equal(added.added![0]!.id, session.id);
    const [seen] = await b.provider.getSessions(undefined, {});
    assert.equal(seen?.accessToken, session.accessToken);
    await fake.waitFor(() => b.item.text === '$(key) alice', 5000, 'B status bar');

    const before = idp.counters();
    const fresh = await a.api.getAccessToken({ rejectedToken: session.accessToken });
    assert.notEqual(fresh, session.accessToken);
    const changed = await fake.waitFor(() => b.sessionEvents.find((e) => e.changed?.length), 5000, 'B: session changed');
    assert.equal(changed.changed![0]!.accessToken, fresh);
    const [afterRefresh] = await b.provider.getSessions(undefined, {});
    assert.equal(afterRefresh?.accessToken, fresh);
    assert.equal(idp.counters().refreshGrants - before.refreshGrants, 1, 'B adopted A\'s refresh');
    assert.match(b.item.tooltipText, /by another process \(pid \d+\)/);
    assert.match(a.item.tooltipText, /by this window/);

    const refreshToken = idp.issuedTokens().at(-1)!;
    assert.equal((await idp.introspect(refreshToken)).active, true);
    await b.provider.removeSession(session.id);
    const removed = await fake.waitFor(() => a.sessionEvents.find((e) => e.removed?.length), 5000, 'A: session removed');
    assert.equal(removed.removed![0]!.id, session.id);
    await fake.waitFor(() => a.item.text === '$(account) Token Relay: Sign in', 5000, 'A shows signed out');
    assert.equal(b.item.text, '$(account) Token Relay: Sign in');
    assert.equal((await idp.introspect(refreshToken)).active, false, 'the refresh token is revoked');
    assert.deepEqual(await a.provider.getSessions(undefined, {}), []);
    await assert.rejects(a.api.getAccessToken(), /not signed in/);
  });

  test('a 401 reported in two windows at once costs one refresh', async () => {
    fake.setSettings(idpSettings(idp));
    const a = await world.openWindow();
    const b = await world.openWindow();
    const session = await signIn(a, 'alice');
    await fake.waitFor(() => b.service.heldSessions().length === 1 || undefined, 5000, 'B adopted');
    const before = idp.counters();
    const tokens = await Promise.all([a, b, a, b, b].map((w) => w.api.getAccessToken({ rejectedToken: session.accessToken })));
    assert.equal(new Set(tokens).size, 1, 'every caller got the same new token');
    assert.notEqual(tokens[0], session.accessToken);
    assert.equal(idp.counters().refreshGrants - before.refreshGrants, 1);
    assert.equal((await idp.introspect(tokens[0]!)).active, true);
  });

  test('onDidChangeToken fires for consumers when another window refreshes', async () => {
    fake.setSettings(idpSettings(idp));
    const a = await world.openWindow();
    const b = await world.openWindow();
    const session = await signIn(a, 'alice');
    await fake.waitFor(() => b.service.heldSessions().length === 1 || undefined, 5000, 'B adopted');
    let fired = 0;
    b.api.onDidChangeToken(() => fired++);
    await a.api.getAccessToken({ rejectedToken: session.accessToken });
    await fake.waitFor(() => fired > 0, 5000, 'onDidChangeToken in B');
  });
});

describe('bad input', () => {
  test('a damaged seal key is reported with a notification and sign-in offered; the other account is untouched', async () => {
    fake.setSettings(idpSettings(idp));
    const a = await world.openWindow();
    const alice = await signIn(a, 'alice');
    const bob = await signIn(a, 'bob');
    assert.notEqual(alice.id, bob.id);
    await world.closeWindow(a); // no live window holds alice's credentials any more
    const bobSecret = world.hub.data.get(`tokenrelay/v2/${bob.id}/key`);
    world.hub.data.set(`tokenrelay/v2/${alice.id}/key`, '{"v":2,"key":'); // truncated write

    fake.respond = () => undefined;
    const c = await world.openWindow();
    const [warning] = await fake.waitFor(() => {
      const found = fake.messagesMatching(/stored sign-in for alice cannot be read: the key that opens it is missing or damaged in VS Code's secret storage/);
      return found.length ? found : undefined;
    }, 5000, 'corrupt-secret notification');
    assert.equal(warning!.severity, 'warning');
    assert.deepEqual(warning!.items, ['Sign In']);
    assert.equal(await c.secrets.get(`tokenrelay/v2/${bob.id}/key`), bobSecret, 'bob\'s secret is untouched');
    const sessions = await c.provider.getSessions(undefined, {});
    assert.deepEqual(sessions.map((s) => s.account.label), ['bob']);
    assert.equal((await idp.introspect(sessions[0]!.accessToken)).active, true);
    const aliceStatus = c.service.account(alice.id)!.status;
    assert.equal(aliceStatus.errorCode, 'corrupt-secret');
    assert.equal(aliceStatus.state, 'needs-sign-in');
    await fake.waitFor(() => c.item.text === '$(key) bob +1', 5000, 'status shows bob, and counts the other account');
    assert.match(c.item.tooltipText, /Other accounts: alice \(sign-in needed\)/);
    assert.doesNotMatch(allLogText(), /\n\s+at /);

    // Signing alice in again heals the slot.
    fake.openExternal = browserLogin('alice');
    const again = await c.provider.createSession(['openid'], {});
    assert.equal(again.id, alice.id);
    assert.equal(c.service.account(alice.id)!.status.state, 'signed-in');
  });

  test('changing the issuer signs out the old sessions (revoked) with a notification', async () => {
    fake.setSettings(idpSettings(idp));
    const a = await world.openWindow();
    const session = await signIn(a, 'alice');
    const refreshToken = idp.issuedTokens().at(-1)!;
    fake.setSettings({ 'tokenrelay.issuer': idp.issuer.replace('127.0.0.1', 'localhost') });
    const [notice] = await fake.waitFor(() => {
      const found = fake.messagesMatching(/signed out alice because tokenrelay\.issuer or tokenrelay\.clientId changed/);
      return found.length ? found : undefined;
    }, 10_000, 'sign-out notification');
    assert.equal(notice!.severity, 'info');
    assert.equal((await idp.introspect(refreshToken)).active, false, 'the old refresh token is revoked');
    await fake.waitFor(() => a.sessionEvents.find((e) => e.removed?.some((s) => s.id === session.id)), 5000, 'session removed');
    await fake.waitFor(() => a.item.text === '$(account) Token Relay: Sign in', 5000, 'signed out');
    assert.equal(await a.secrets.get(`tokenrelay/v1/${session.id}`), undefined);
  });

  test('a client id changed while VS Code was closed signs the old sessions out at the next start', async () => {
    fake.setSettings(idpSettings(idp));
    const a = await world.openWindow();
    await signIn(a, 'alice');
    const refreshToken = idp.issuedTokens().at(-1)!;
    await world.closeWindow(a);
    fake.setSettings({ 'tokenrelay.clientId': 'another-client' });
    const b = await world.openWindow();
    await fake.waitFor(() => fake.messagesMatching(/signed out alice/).length > 0, 10_000, 'notification');
    assert.equal((await idp.introspect(refreshToken)).active, false);
    assert.equal(b.item.text, '$(account) Token Relay: Sign in');
  });
});

describe('session states in the status bar', () => {
  test('the IdP refuses the refresh token (invalid_grant): "Sign in again" in every window, session removed', async () => {
    fake.setSettings(idpSettings(idp));
    const a = await world.openWindow();
    const b = await world.openWindow();
    const session = await signIn(a, 'alice');
    await fake.waitFor(() => b.item.text === '$(key) alice', 5000, 'B adopted');
    // Someone revokes the grant at the IdP (an administrator, another device).
    const res = await fetch(`${idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: idp.issuedTokens().at(-1)!, client_id: idp.clientId }),
    });
    assert.equal(res.status, 200);
    await assert.rejects(a.api.getAccessToken({ rejectedToken: session.accessToken }), /no longer accepts the stored sign-in/);
    for (const w of [a, b]) {
      await fake.waitFor(() => w.item.text === '$(warning) Token Relay: Sign in again', 5000, 'needs sign-in shown');
      assert.equal(w.item.backgroundColor?.id, 'statusBarItem.warningBackground');
      assert.match(w.item.tooltipText, /no longer accepts the stored sign-in/);
      await fake.waitFor(() => w.sessionEvents.find((e) => e.removed?.some((s) => s.id === session.id)), 5000, 'session removed');
    }
    // Signing in again restores it for everyone.
    await signIn(b, 'alice');
    await fake.waitFor(() => a.item.text === '$(key) alice', 5000, 'A signed in again');
  });

  test('the IdP is unreachable: offline state with the reason, the session survives', async () => {
    fake.setSettings(idpSettings(idp));
    const a = await world.openWindow();
    const session = await signIn(a, 'alice');
    await idp.setFault('error500');
    try {
      await fake.commands.get('tokenrelay.refreshNow')!.at(-1)!();
      await fake.waitFor(() => a.item.text === '$(cloud-offline) alice', 5000, 'offline shown');
      assert.match(a.item.tooltipText, /unreachable, retrying/);
      assert.match(a.item.tooltipText, /HTTP 500/);
      assert.ok(fake.messagesMatching(/Token Relay: The identity provider could not be reached/).length, 'the failed refresh is reported');
      const [still] = await a.provider.getSessions(undefined, {});
      assert.equal(still?.accessToken, session.accessToken, 'a token the clock still trusts is kept');
    } finally {
      await idp.setFault('none');
    }
  });
});

describe('Token Relay: Set Client Secret', () => {
  test('a password box, the secret to the key stores (never settings, the log or a message); sign-in and refresh then authenticate the client', async () => {
    fake.setSettings(idpSettings(idp, { 'tokenrelay.clientId': BASIC_CLIENT_ID }));
    const win = await world.openWindow();
    fake.type = () => idp.clientSecret;
    await fake.commands.get('tokenrelay.setClientSecret')!.at(-1)!();
    assert.deepEqual(fake.inputBoxes.map((b) => b.password), [true], 'typed into a password box');
    assert.match(fake.inputBoxes[0]!.prompt!, new RegExp(`client secret of ${BASIC_CLIENT_ID} at ${idp.issuer}.*never in settings`));
    assert.ok(fake.messagesMatching(new RegExp(`client secret of ${BASIC_CLIENT_ID} is kept in `)).length);
    idp.resetCounters();
    const session = await signIn(win, 'alice');
    await win.api.getAccessToken({ rejectedToken: session.accessToken });
    assert.deepEqual(idp.counters().tokenAuth, { client_secret_basic: 2 });
    const shown = JSON.stringify([...fake.settings.values(), fake.messages.map((m) => m.message), fake.inputBoxes]) + allLogText();
    assert.ok(!shown.includes(idp.clientSecret!), 'shown nowhere');

    // Dismissed: nothing changes. Empty: removed, and this client can no longer authenticate.
    fake.type = () => undefined;
    await fake.commands.get('tokenrelay.setClientSecret')!.at(-1)!();
    fake.type = () => '';
    await fake.commands.get('tokenrelay.setClientSecret')!.at(-1)!();
    assert.ok(fake.messagesMatching(new RegExp(`removed the client secret of ${BASIC_CLIENT_ID}`)).length);
    await assert.rejects(win.service.refreshNow(), /invalid_client/);
  });
});

describe('commands', () => {
  test('status menu, refresh now, show log and sign out', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    const session = await signIn(win, 'alice');
    const run = (id: string) => fake.commands.get(id)!.at(-1)!();

    fake.pick = (items) => (items as { label: string }[]).find((i) => i.label.includes('Show Log'));
    await run('tokenrelay.statusMenu');
    const labels = (fake.quickPicks[0]!.items as { label: string }[]).map((i) => i.label.replace(/\$\([^)]*\)\s*/, ''));
    // Signed in, the fitting action comes first (preselected); signed out, Sign In does.
    assert.deepEqual(labels, ['Refresh Now', 'Sign In', 'Sign Out', 'Show Log', 'Open Settings', 'Install \'tokenrelay\' Command in PATH']);
    assert.equal(win.channel.shown, 1);

    const before = idp.counters();
    await run('tokenrelay.refreshNow');
    assert.equal(idp.counters().refreshGrants - before.refreshGrants, 1);
    assert.ok(fake.messagesMatching(/access token refreshed for alice; it expires in \d+:\d\d/).length);
    const [fresh] = await win.provider.getSessions(undefined, {});
    assert.notEqual(fresh?.accessToken, session.accessToken);

    await run('tokenrelay.signOut');
    assert.ok(fake.messagesMatching(/signed out alice in every window/).length);
    assert.equal(win.item.text, '$(account) Token Relay: Sign in');
    fake.pick = () => undefined;
    await run('tokenrelay.statusMenu');
    assert.match((fake.quickPicks.at(-1)!.items as { label: string }[])[0]!.label, /Sign In/, 'signed out: Sign In first');
  });

  test('sign-out whose revocation the IdP refuses: signed out all the same, and a warning says the grant may still be active', async () => {
    fake.setSettings(idpSettings(idp));
    const win = await world.openWindow();
    const session = await signIn(win, 'alice');
    const run = (id: string) => fake.commands.get(id)!.at(-1)!();
    await idp.setFault('revocation-401');
    try {
      await run('tokenrelay.signOut');
      const [warning] = fake.messages.filter((m) => m.severity === 'warning');
      assert.equal(warning?.message, `Token Relay: Signed out on this computer. The identity provider did not revoke the grant (HTTP 401, no content type, empty body). The grant may still be active at ${idp.issuer}; revoke it in the provider's account page.`);
      assert.equal(fake.messagesMatching(/signed out alice in every window/).length, 0, 'not told that all went well');
      assert.equal(win.item.text, '$(account) Token Relay: Sign in');
      assert.equal((await idp.introspect(session.accessToken)).active, true, 'the grant is live at the server, as the warning says');

      // The Accounts menu's sign-out (removeSession) says the same.
      const again = await signIn(win, 'alice');
      await win.provider.removeSession(again.id);
      assert.equal(fake.messages.filter((m) => m.severity === 'warning').length, 2);
      assert.deepEqual(await win.provider.getSessions(undefined, {}), []);
    } finally {
      await idp.setFault('none');
    }
  });
});
