// The version-independent launchers `tokenrelay setup path` and the VS Code command "Install
// 'tokenrelay' Command in PATH" put in ~/.local/bin. An extension update installs a new folder
// (<extensions>/tokenrelay.tokenrelay-<version>) and removes the old one, so a link to the current
// folder would break at every update: the launcher looks for the newest installed folder each run.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';

/** Marks a file as ours, so setup replaces it on the next run but never overwrites anyone else's. */
export const LAUNCHER_MARK = '# tokenrelay launcher, written by "tokenrelay setup path"';
const EXTENSION_FOLDER = /^tokenrelay\.tokenrelay-\d/;
const COMMANDS = ['tokenrelay', 'docker-credential-tokenrelay'] as const;

export interface LauncherFile {
  path: string;
  content: string;
  /** 'create', 'replace' (an earlier launcher of ours) or 'keep' (already this content). */
  action: 'create' | 'replace' | 'keep';
}

export interface LauncherPlan {
  files: LauncherFile[];
  /** Whether binDir is on the PATH given; if not, the line to add. */
  onPath: boolean;
  pathHint?: string;
}

/** The default directory: ~/.local/bin, the XDG place for a user's executables. */
export const defaultBinDir = (home: string) => join(home, '.local', 'bin');

/**
 * What installing the launchers for the installation at installRoot (the folder holding bin/ and
 * dist/) into binDir would do. Throws, naming the file and the fix, when binDir holds a file of
 * the same name that is not ours, or when this platform has no POSIX shell.
 */
export function planLaunchers(installRoot: string, binDir: string, env: NodeJS.ProcessEnv, platform = process.platform): LauncherPlan {
  if (platform === 'win32') {
    throw new Error(`On Windows, add "${join(installRoot, 'bin')}" to your user PATH instead (Settings > System > About > Advanced system settings > Environment Variables).`);
  }
  const files = COMMANDS.map((command): LauncherFile => {
    const path = join(binDir, command);
    const content = launcherScript(installRoot, command);
    if (!existsSync(path) && !isSymlink(path)) return { path, content, action: 'create' };
    const current = isSymlink(path) ? undefined : safeRead(path);
    if (current === undefined || !current.includes(LAUNCHER_MARK)) {
      throw new Error(`${path} already exists and was not written by Token Relay. Move it away, or choose another directory with --dir.`);
    }
    return { path, content, action: current === content ? 'keep' : 'replace' };
  });
  const onPath = (env.PATH ?? '').split(delimiter).some((d) => d.replace(/\/+$/, '') === binDir.replace(/\/+$/, ''));
  return { files, onPath, pathHint: onPath ? undefined : `export PATH="${binDir}:$PATH"   # add this line to ~/.profile, ~/.bashrc or ~/.zshrc` };
}

/** Writes the plan's files (0755, each replaced atomically). */
export function installLaunchers(plan: LauncherPlan): void {
  for (const file of plan.files) {
    if (file.action === 'keep') continue;
    mkdirSync(dirname(file.path), { recursive: true, mode: 0o755 });
    const temp = `${file.path}.tmp-${process.pid}`;
    writeFileSync(temp, file.content, { mode: 0o755 });
    chmodSync(temp, 0o755);
    renameSync(temp, file.path);
  }
}

/** The shell script: runs <newest installed folder>/bin/<command>, or the fixed installation. */
export function launcherScript(installRoot: string, command: (typeof COMMANDS)[number]): string {
  const sh = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  if (!EXTENSION_FOLDER.test(basename(installRoot))) {
    // Not an extension folder (a checkout, an npm install): it does not move with updates.
    return `#!/bin/sh
${LAUNCHER_MARK}
exec ${sh(join(installRoot, 'bin', command))} "$@"
`;
  }
  const extensions = dirname(installRoot);
  return `#!/bin/sh
${LAUNCHER_MARK}
# Runs the newest Token Relay installed in this extensions folder, so it survives updates.
extensions=${sh(extensions)}
newest=$(ls -1dt "$extensions"/tokenrelay.tokenrelay-*/ 2>/dev/null | head -n 1)
if [ -z "$newest" ]; then
  echo "${command}: Token Relay is no longer installed in $extensions. Install it again, or remove $0." >&2
  exit 4
fi
exec "\${newest%/}/bin/${command}" "$@"
`;
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The environment variable that makes VS Code's Electron binary run as plain Node. */
export const ELECTRON_RUN_AS_NODE = 'ELECTRON_RUN_AS_NODE';

/**
 * How a process VS Code starts runs the bundled CLI without a shell: `command args…` with `env`
 * added. With VS Code's own runtime (`process.execPath` in the extension host), as bin/tokenrelay
 * runs it from $VSCODE_TOKENRELAY_NODE: Electron needs ELECTRON_RUN_AS_NODE=1 to be Node.
 */
export function cliInvocation(installRoot: string, runtime: string, cliArgs: readonly string[]): { command: string; args: string[]; env: Record<string, string> } {
  return { command: runtime, args: [join(installRoot, 'dist', 'cli.js'), ...cliArgs], env: { [ELECTRON_RUN_AS_NODE]: '1' } };
}
