// Where the per-user store of record and the CLI's configuration live: one place for every VS Code
// flavour (Code, Insiders, VSCodium, Cursor, Windsurf, code-server, a Remote-SSH server) and every
// terminal, so one sign-in serves all of them. Never under any one flavour's globalStorage.
//
//   store root   $TOKENRELAY_HOME, else
//                Linux: $XDG_STATE_HOME/tokenrelay (~/.local/state/tokenrelay)
//                macOS: ~/Library/Application Support/tokenrelay
//                Windows: %LOCALAPPDATA%\tokenrelay
//     slots/     one sealed slot directory per (issuer, client, account), plus its meta file
//     keys/      the opt-in key file store (tokenrelay.keyStore "file")
//   config file  $TOKENRELAY_CONFIG, else
//                Linux: $XDG_CONFIG_HOME/tokenrelay/config.json (~/.config/tokenrelay/config.json)
//                macOS: ~/Library/Application Support/tokenrelay/config.json
//                Windows: %APPDATA%\tokenrelay\config.json
import { lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { TokenRelayError } from '../core/errors.ts';
import { ensurePrivateDir } from '../core/slotDir.ts';

export interface StoreLayout {
  root: string;
  slots: string;
  keys: string;
  /** Why this root: `TOKENRELAY_HOME` or the platform default, for status and errors. */
  source: string;
}

type Env = NodeJS.ProcessEnv;

/** An XDG variable counts only when absolute (the XDG spec says relative ones are ignored). */
function xdg(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value && isAbsolute(value) ? value : fallback;
}

function home(env: Env): string {
  return env.HOME || homedir();
}

/** The store root by rule, without touching the disk. */
export function storeLayout(env: Env = process.env, platform: NodeJS.Platform = process.platform): StoreLayout {
  const explicit = env.TOKENRELAY_HOME;
  let root: string;
  let source: string;
  if (explicit !== undefined && explicit !== '') {
    if (!isAbsolute(explicit)) {
      throw new TokenRelayError('config', `TOKENRELAY_HOME must be an absolute path (got "${explicit}").`,
        'Set TOKENRELAY_HOME to an absolute directory, for example $HOME/.local/state/tokenrelay, or unset it.');
    }
    root = explicit;
    source = 'TOKENRELAY_HOME';
  } else if (platform === 'darwin') {
    root = join(home(env), 'Library', 'Application Support', 'tokenrelay');
    source = 'the macOS default';
  } else if (platform === 'win32') {
    root = join(env.LOCALAPPDATA || join(home(env), 'AppData', 'Local'), 'tokenrelay');
    source = '%LOCALAPPDATA%';
  } else {
    root = join(xdg(env, 'XDG_STATE_HOME', join(home(env), '.local', 'state')), 'tokenrelay');
    source = env.XDG_STATE_HOME ? 'XDG_STATE_HOME' : 'the XDG default';
  }
  return { root, slots: join(root, 'slots'), keys: join(root, 'keys'), source };
}

/**
 * Creates (0700) or checks the store root and its slots folder: a real directory of this user.
 * A TOKENRELAY_HOME that names a file, a symlink or another user's directory is refused, naming the
 * variable, before anything is written.
 */
export function openStoreLayout(env: Env = process.env, platform: NodeJS.Platform = process.platform): StoreLayout {
  const layout = storeLayout(env, platform);
  try {
    const stat = lstatSync(layout.root, { throwIfNoEntry: false });
    if (stat && !stat.isDirectory() && !stat.isSymbolicLink()) {
      throw new TokenRelayError('lock-dir', `Token Relay's store ${layout.root} (from ${layout.source}) is a file, not a directory.`,
        layout.source === 'TOKENRELAY_HOME' ? 'Point TOKENRELAY_HOME at a directory (it is created if missing), or unset it.' : 'Move that file away; Token Relay then creates the directory.');
    }
    ensurePrivateDir(layout.root, 'store directory');
    ensurePrivateDir(layout.slots, 'slots directory');
  } catch (err) {
    if (err instanceof TokenRelayError && layout.source === 'TOKENRELAY_HOME' && !err.message.includes('TOKENRELAY_HOME')) {
      throw new TokenRelayError(err.code, `TOKENRELAY_HOME: ${err.message}`);
    }
    throw err;
  }
  return layout;
}

/** The CLI's configuration file (profiles). */
export function configFilePath(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.TOKENRELAY_CONFIG) return env.TOKENRELAY_CONFIG;
  if (platform === 'darwin') return join(home(env), 'Library', 'Application Support', 'tokenrelay', 'config.json');
  if (platform === 'win32') return join(env.APPDATA || join(home(env), 'AppData', 'Roaming'), 'tokenrelay', 'config.json');
  return join(xdg(env, 'XDG_CONFIG_HOME', join(home(env), '.config')), 'tokenrelay', 'config.json');
}
