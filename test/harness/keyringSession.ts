// A private Secret Service for tests: its own D-Bus session bus (a temp config with no service
// directories, so nothing is auto-activated) and, unless asked otherwise, a gnome-keyring-daemon
// on it, with HOME, XDG_DATA_HOME and XDG_RUNTIME_DIR in a temp directory. The user's real bus and
// keyring are never touched. `env` is what to hand the adapter (and secret-tool).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface KeyringSessionOptions {
  /** 'unlocked' (default): the login keyring is created or unlocked with `password`. 'locked': the daemon starts without a password, so an existing login keyring stays locked. 'none': no keyring daemon. */
  keyring?: 'unlocked' | 'locked' | 'none';
  password?: string;
  /** Reuse the home of an earlier session (its keyring files), e.g. to restart it locked. */
  home?: string;
}

export interface KeyringSession {
  env: NodeJS.ProcessEnv;
  home: string;
  /** Stops the daemon and the bus; removes the temp directory unless `keepHome` (the caller then removes `dirname(home)`). */
  stop(keepHome?: boolean): Promise<void>;
}

/** The commands a session needs (Debian: dbus-daemon, gnome-keyring, libsecret-tools, libglib2.0-bin for gdbus). */
export function keyringToolsPresent(): boolean {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  return ['secret-tool', 'gnome-keyring-daemon', 'dbus-daemon', 'gdbus'].every((cmd) => dirs.some((d) => existsSync(join(d, cmd))));
}

export async function startKeyringSession(o: KeyringSessionOptions = {}): Promise<KeyringSession> {
  const base = mkdtempSync(join(tmpdir(), 'tokenrelay-keyring-'));
  const home = o.home ?? join(base, 'home');
  const runtime = join(base, 'run');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(runtime, { mode: 0o700 });
  const config = join(base, 'bus.conf');
  writeFileSync(config, busConfig(`unix:path=${join(runtime, 'bus')}`));

  const bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const address = await firstLine(bus);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_RUNTIME_DIR: runtime,
    DBUS_SESSION_BUS_ADDRESS: address, LANG: 'C.UTF-8',
  };
  let daemon: ChildProcess | undefined;
  const stop = async (keepHome = false) => {
    await Promise.all([daemon, bus].map(async (child) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }));
    rmSync(runtime, { recursive: true, force: true });
    rmSync(config, { force: true });
    // A reused home belongs to the earlier session; this session's own directory holds no home then.
    if (o.home || !keepHome) rmSync(base, { recursive: true, force: true });
  };
  try {
    if ((o.keyring ?? 'unlocked') !== 'none') {
      // In the foreground the daemon stays this process's child (stopped for sure); with --unlock it
      // reads the password from stdin. Ready once it owns its bus name: `gdbus wait` says when.
      const unlock = o.keyring !== 'locked';
      const started = spawn('gnome-keyring-daemon', ['--foreground', '--components=secrets', ...(unlock ? ['--unlock'] : [])],
        { env, stdio: ['pipe', 'ignore', 'pipe'] });
      daemon = started;
      let stderr = '';
      started.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
      started.stdin!.end(unlock ? (o.password ?? 'test-keyring-password') : '');
      const exited = once(started, 'exit').then(([code]) => { throw new Error(`gnome-keyring-daemon exited with ${code}: ${stderr}`); });
      exited.catch(() => {}); // its exit at stop is expected; the race below still sees an early one
      await Promise.race([waitForName(env, 'org.freedesktop.secrets'), exited]);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { env, home, stop };
}

/** The session bus where systemd's user manager puts it: <runtime dir>/bus. */
function busConfig(listen: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>${listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`;
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => { throw new Error(`dbus-daemon exited with ${code}`); });
  exited.catch(() => {}); // its exit at stop is expected
  const line = once(lines, 'line').then(([l]) => String(l).trim());
  try {
    return await Promise.race([line, exited]);
  } finally {
    lines.close();
  }
}

/** Resolves once `name` has an owner on the session bus of `env`. */
async function waitForName(env: NodeJS.ProcessEnv, name: string): Promise<void> {
  const wait = spawn('gdbus', ['wait', '--session', '--timeout', '20', name], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  wait.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const [code] = await once(wait, 'exit');
  if (code !== 0) throw new Error(`${name} did not appear on the test bus: ${stderr}`);
}
