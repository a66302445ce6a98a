// Where the D-Bus session bus of this user is when the environment does not say: cron jobs and
// some SSH sessions have neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR, yet while the user
// is logged in (or lingering) systemd's user manager serves the bus at /run/user/<uid>/bus, the
// address every desktop session uses. GLib falls back to $XDG_RUNTIME_DIR/bus by itself; this
// adds the same fallback for the well-known directory, and only to a socket of this user.
import { lstatSync } from 'node:fs';
import { join } from 'node:path';

/** `env` unchanged when it names a bus; else with DBUS_SESSION_BUS_ADDRESS set to this user's bus socket, if there is one. */
export function withSessionBus(env: NodeJS.ProcessEnv, runRoot = '/run/user', uid = process.getuid?.()): NodeJS.ProcessEnv {
  if (env.DBUS_SESSION_BUS_ADDRESS || uid === undefined) return env;
  for (const dir of [env.XDG_RUNTIME_DIR, join(runRoot, String(uid))]) {
    if (!dir) continue;
    const socket = join(dir, 'bus');
    const s = lstatSync(socket, { throwIfNoEntry: false });
    if (s?.isSocket() && s.uid === uid) return { ...env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}` };
  }
  return env;
}
