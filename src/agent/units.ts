// The service definitions that run the agent at login: a systemd user unit and a launchd agent.
// `tokenrelay agent --print-systemd-unit` / `--print-launchd-plist` print them with this
// installation's node and CLI; contrib/ holds the same text with placeholder paths (a test checks
// they agree). Both run `agent --stay`: a service manager restarts a process that fails, not one
// that exited because it was idle.
export interface UnitPaths {
  /** The Node runtime (absolute). */
  node: string;
  /** dist/cli.js (absolute). */
  cli: string;
  /** Where launchd writes the agent's stderr (launchd expands no ~). */
  logFile?: string;
  /** VS Code's own runtime is Electron: it runs as node only with ELECTRON_RUN_AS_NODE=1. */
  electron?: boolean;
}

export const AGENT_ARGS = ['agent', '--stay'];
export const LAUNCHD_LABEL = 'dev.tokenrelay.agent';

/** Seconds a stop may take: the agent first waits for a refresh answer outstanding (TIMEOUTS.refreshHard, 120 s). */
const STOP_SECONDS = 130;

export function systemdUnit(p: UnitPaths): string {
  const exec = [p.node, p.cli, ...AGENT_ARGS].map(systemdQuote).join(' ');
  return `# Token Relay agent: serves tokenrelay (token, git, kubectl, docker, MCP) with no VS Code window
# and refreshes ahead of expiry. Install as ~/.config/systemd/user/tokenrelay-agent.service, then:
#   systemctl --user daemon-reload && systemctl --user enable --now tokenrelay-agent
[Unit]
Description=Token Relay agent (OAuth access tokens for terminals, refreshed ahead of expiry)

[Service]
Type=simple
ExecStart=${exec}
${p.electron ? 'Environment=ELECTRON_RUN_AS_NODE=1\n' : ''}Restart=on-failure
RestartSec=5
# On SIGTERM the agent lets a refresh in flight answer and saves it before it exits.
TimeoutStopSec=${STOP_SECONDS}
UMask=0077

[Install]
WantedBy=default.target
`;
}

export function launchdPlist(p: UnitPaths): string {
  const args = [p.node, p.cli, ...AGENT_ARGS].map((a) => `    <string>${xml(a)}</string>`).join('\n');
  const log = p.logFile ? `  <key>StandardErrorPath</key>\n  <string>${xml(p.logFile)}</string>\n` : '';
  const env = p.electron ? '  <key>EnvironmentVariables</key>\n  <dict>\n    <key>ELECTRON_RUN_AS_NODE</key>\n    <string>1</string>\n  </dict>\n' : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Token Relay agent. Install as ~/Library/LaunchAgents/${LAUNCHD_LABEL}.plist, then:
     launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/${LAUNCHD_LABEL}.plist -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
${env}  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ProcessType</key>
  <string>Background</string>
  <key>ExitTimeOut</key>
  <integer>${STOP_SECONDS}</integer>
${log}</dict>
</plist>
`;
}

/** systemd's quoting: a word with a space, quote or backslash goes in double quotes, escaped; % is doubled. */
function systemdQuote(word: string): string {
  const escaped = word.replace(/%/g, '%%');
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`)}"` : escaped;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
