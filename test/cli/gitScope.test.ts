// The git helper answers only what it should, with the real `git credential` driving it. The helper
// is configured unscoped here (credential.helper for every URL), the setup README warns against,
// so every refusal below is the helper's own and not git's URL matching.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { cliBundle, runCli, startWindow, type CliBundle, type TestWindow } from './support.ts';

let world: World;
let win: TestWindow;
let cli: CliBundle;
/** The tokenrelay.git.hosts value the window reads on each git request. */
let hostsSetting: unknown;

before(async () => {
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  win = await startWindow(world, { gitHosts: () => hostsSetting });
  cli = await cliBundle();
  mkdirSync(join(world.dir, 'home'), { recursive: true });
});

after(async () => {
  await win?.close();
  await world?.close();
});

/**
 * `text` fit for a failure message: `expected` (the token it should hold) as <token>, any other
 * token the IdP issued as <other token>; without `expected`, every one as <token>.
 */
function masked(text: string, expected?: string): string {
  return world.idp.issuedTokens().reduce((t, token) => t.split(token).join(expected === undefined || token === expected ? '<token>' : '<other token>'), text);
}
const current = async () => (await win.service.getToken()).accessToken;

/** `git credential <action>` with the helper set for every URL; no prompt, no other helper. Async: the window answers from this process. */
function git(action: 'fill' | 'reject', input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('git', ['-c', 'credential.helper=', '-c', 'credential.helper=!tokenrelay git-credential', 'credential', action], {
    cwd: world.dir,
    env: {
      ...process.env, PATH: `${cli.binDir}${delimiter}${process.env.PATH}`, TOKENRELAY_SOCK: win.server.socketPath,
      HOME: join(world.dir, 'home'), GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '',
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('git credential fill through an unscoped helper', () => {
  test('protocol=http to a remote host and protocol=ftp: no password, a reason on stderr; https and loopback http are answered', async () => {
    hostsSetting = undefined;
    const token = await current();
    const http = await git('fill', 'protocol=http\nhost=evil.example\n\n');
    assert.notEqual(http.status, 0, 'git found no credential and may not prompt');
    assert.ok(!http.stdout.includes(token) && !http.stdout.includes('password='), masked(http.stdout));
    assert.match(http.stderr, /tokenrelay: no token for git: git asked for a token for plain http:\/\/evil\.example; it is sent only over https/);
    const ftp = await git('fill', 'protocol=ftp\nhost=files.example.com\n\n');
    assert.notEqual(ftp.status, 0);
    assert.ok(!ftp.stdout.includes('password='), masked(ftp.stdout));
    assert.match(ftp.stderr, /the protocol "ftp"; only https is answered/);
    // Unscoped (tokenrelay.git.hosts unset), https to any host and plain http to loopback are answered.
    const https = await git('fill', 'protocol=https\nhost=git.example.com\npath=org/repo.git\n\n');
    assert.equal(https.status, 0, https.stderr);
    assert.ok(https.stdout.includes(`password=${token}\n`), masked(https.stdout, token));
    for (const host of ['127.0.0.1:8080', 'localhost', '[::1]:9']) {
      const loopback = await git('fill', `protocol=http\nhost=${host}\n\n`);
      assert.ok(loopback.stdout.includes(`password=${token}\n`), `${host}: ${loopback.stderr}`);
    }
  });

  test('with tokenrelay.git.hosts set, only those hosts get the token', async () => {
    hostsSetting = ['git.example.com', '*.corp.example', '127.0.0.1:8080'];
    try {
      const token = await current();
      for (const host of ['git.example.com', 'GIT.example.com', 'src.corp.example', '127.0.0.1:8080']) {
        const protocol = host.startsWith('127.') ? 'http' : 'https';
        const ok = await git('fill', `protocol=${protocol}\nhost=${host}\n\n`);
        assert.ok(ok.stdout.includes(`password=${token}\n`), `${host}: ${ok.stderr}`);
      }
      for (const host of ['github.com', 'git.example.com:8443', 'corp.example', 'evil.example?.corp.example', '127.0.0.1:8081']) {
        const refused = await git('fill', `protocol=https\nhost=${host}\n\n`);
        assert.notEqual(refused.status, 0, host);
        assert.ok(!refused.stdout.includes('password='), `${host}: ${masked(refused.stdout)}`);
        assert.match(refused.stderr, /is not in tokenrelay\.git\.hosts|which is not a host name/, host);
      }
    } finally {
      hostsSetting = undefined;
    }
  });

  test('a bad tokenrelay.git.hosts entry answers no host and names the entry and the fix', async () => {
    hostsSetting = ['git.example.com', 'https://git.example.com/'];
    try {
      const r = await git('fill', 'protocol=https\nhost=git.example.com\n\n');
      assert.ok(!r.stdout.includes('password='), masked(r.stdout));
      assert.match(r.stderr, /tokenrelay\.git\.hosts contains "https:\/\/git\.example\.com\/", which is not a host\[:port\] pattern.*without a scheme or path/);
    } finally {
      hostsSetting = undefined;
    }
  });

  test('erase reports only the current token, and only for a host it answers', async () => {
    hostsSetting = ['git.example.com'];
    try {
      const token = await current();
      world.idp.resetCounters();
      await git('reject', `protocol=https\nhost=other.example\nusername=oauth2\npassword=${token}\n\n`);
      await git('reject', `protocol=http\nhost=evil.example\nusername=oauth2\npassword=${token}\n\n`);
      assert.equal(world.idp.counters().refreshGrants, 0, 'a host the helper does not answer cannot make it refresh');
      await git('reject', 'protocol=https\nhost=git.example.com\nusername=oauth2\npassword=not-the-current-token\n\n');
      assert.equal(world.idp.counters().refreshGrants, 0, 'a token that is not the current one is ignored');
      assert.equal(await current(), token);
      const erased = await git('reject', `protocol=https\nhost=git.example.com\nusername=oauth2\npassword=${token}\n\n`);
      assert.equal(erased.status, 0, erased.stderr);
      assert.equal(world.idp.counters().refreshGrants, 1, 'the current token, for an answered host: one refresh');
      assert.notEqual(await current(), token);
    } finally {
      hostsSetting = undefined;
    }
  });
});

describe('the helper protocol directly: malformed input gets no password', () => {
  const cases: [string, string, RegExp][] = [
    ['empty input', '', /git passed no protocol/],
    ['only a blank line', '\n', /git passed no protocol/],
    ['no host', 'protocol=https\n\n', /git passed no host/],
    ['no protocol', 'host=git.example.com\n\n', /git passed no protocol/],
    ['a line without =', 'protocol=https\nhost git.example.com\n\n', /line 2 of the input is not a key=value attribute/],
    ['an empty key', 'protocol=https\n=x\nhost=git.example.com\n\n', /line 2 of the input is not a key=value attribute/],
  ];
  for (const [name, input, message] of cases) {
    test(name, async () => {
      world.idp.resetCounters();
      const r = await runCli(win.server.socketPath, ['git-credential', 'get'], { input });
      assert.equal(r.stdout, '', 'nothing for git to use');
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /No credential was given\.\n$/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  test('a url attribute alone is read as git reads it; one that is not a URL gets no password', async () => {
    const r = await runCli(win.server.socketPath, ['git-credential', 'get'], { input: 'url=https://git.example.com/org/repo.git\n\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`password=${await current()}\n`));
    const bad = await runCli(win.server.socketPath, ['git-credential', 'get'], { input: 'url=::::\n\n' });
    assert.equal(bad.stdout, '');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /the url attribute is not a URL\. No credential was given\.\n$/);
  });
});
