// A shell or window without XDG_RUNTIME_DIR (cron, ssh) and a window whose login set it find each
// other: /run/user/<uid>/tokenrelay is a candidate whatever the environment says. Real processes:
// windows as OS processes whose socket directories come from their own environment, and the CLI
// bundled as shipped under `env -i`. /run/user/<uid> is made here (as logind would) when missing,
// and only what this file made is removed.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { World } from '../harness/fixture.ts';
import { captureLog, cliBundle, runChild } from '../cli/support.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

interface Started { terminal: string; peer: string; state: string; errorCode?: string; log: string[] }

const runUser = `/run/user/${process.getuid!()}`; // where logind puts XDG_RUNTIME_DIR
let made: string | undefined; // what this file created under /run/user, removed at the end
let world: World;
let scratch: string;
const children: ChildProcess[] = [];

before(async () => {
  if (!existsSync(runUser)) {
    mkdirSync(runUser, { mode: 0o700 }); // needs /run/user and root, as the suite has
    made = runUser;
  } else if (!existsSync(join(runUser, 'tokenrelay'))) {
    made = join(runUser, 'tokenrelay');
  }
  world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  await world.signInAccount();
  scratch = mkdtempSync('/tmp/trr-');
});

after(async () => {
  await Promise.all(children.map((c) => new Promise((resolve) => { c.once('exit', resolve); c.kill('SIGTERM'); })));
  await world?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (made) rmSync(made, { recursive: true, force: true });
});

/** A clean environment: PATH, a HOME and TMPDIR of its own, plus `extra`. */
function cleanEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
  const home = join(scratch, name, 'home');
  const tmp = join(scratch, name, 'tmp');
  for (const d of [home, tmp]) mkdirSync(d, { recursive: true, mode: 0o700 });
  return { PATH: process.env.PATH!, HOME: home, TMPDIR: tmp, ...extra };
}

/** Starts envWindow.ts with exactly `env`; `storePath` is its secret view. */
async function startWindow(env: Record<string, string>, storePath = world.storePath): Promise<Started> {
  const config = { slotsRoot: world.slotsRoot, slotDir: world.accountSlot().slotDir, storePath, issuer: world.idp.issuer, clientId: world.idp.clientId };
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'envWindow.ts'), JSON.stringify(config)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (output.includes('\n')) resolve(JSON.parse(output.split('\n')[0]));
    });
    child.once('exit', (code) => reject(new Error(`the window exited (${code})`)));
  });
}

async function cli(env: Record<string, string>, args: string[]) {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return runChild('env', ['-i', ...vars, process.execPath, (await cliBundle()).cliJs, ...args], { cwd: '/', timeoutMs: 30_000 });
}

let logged: Started | undefined; // the window whose login set XDG_RUNTIME_DIR

test('a CLI without XDG_RUNTIME_DIR (cron, ssh) finds the window whose XDG_RUNTIME_DIR is /run/user/<uid> and gets its token', async () => {
  logged = await startWindow(cleanEnv('logged', { XDG_RUNTIME_DIR: runUser }));
  assert.equal(logged.state, 'signed-in', logged.log.join('\n'));
  assert.equal(dirname(logged.terminal), join(runUser, 'tokenrelay'));
  const env = cleanEnv('cron');
  const status = await cli(env, ['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).socket, logged.terminal, 'answered by that window');
  const token = await cli(env, ['token']);
  assert.equal(token.code, 0, token.stderr);
  assert.ok(world.idp.issuedTokens().includes(token.stdout.trim()), 'a token the IdP issued');
});

test('a window without XDG_RUNTIME_DIR, its secret view lacking K, takes K from a sibling registered in /run/user/<uid>/tokenrelay (no "key missing")', async () => {
  logged ??= await startWindow(cleanEnv('logged', { XDG_RUNTIME_DIR: runUser }));
  assert.equal(dirname(logged.peer), join(runUser, 'tokenrelay'), 'the sibling registered in the runtime directory');
  const emptyView = join(scratch, 'empty-view');
  const plain = await startWindow(cleanEnv('plain'), emptyView);
  assert.equal(plain.errorCode, undefined, plain.log.join('\n'));
  assert.equal(plain.state, 'signed-in');
  assert.ok(plain.log.some((l) => l.includes('Took the seal key from a live sibling')), plain.log.join('\n'));
  assert.ok(!plain.log.some((l) => l.includes('Ignoring a sibling registration')), plain.log.join('\n'));
  const token = await cli(cleanEnv('its-terminal', { TOKENRELAY_SOCK: plain.terminal }), ['token']);
  assert.equal(token.code, 0, token.stderr);
  assert.ok(world.idp.issuedTokens().includes(token.stdout.trim()));
});

test('the trust rule does not depend on where this process\'s own sockets are: a private socket in /run/user/<uid>/tokenrelay is asked (one outside every candidate is not: storeOfRecord.test.ts)', async () => {
  logged ??= await startWindow(cleanEnv('logged', { XDG_RUNTIME_DIR: runUser }));
  const keyId = JSON.parse(readFileSync(join(world.accountSlot().slotDir, 'key-id'), 'utf8')).id as string;
  const log = captureLog();
  const own = join(scratch, 'own-sockets');
  const channel = new UnixSiblingChannel(own, log, []); // its own directories: only `own`
  assert.ok(await channel.askKey(join(world.accountSlot().slotDir, 'peers'), keyId, () => true), 'K from the sibling in the runtime directory');
  assert.ok(!log.lines.some((l) => l.includes('Ignoring a sibling registration')), log.lines.join('\n'));
});
