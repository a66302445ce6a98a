// Entry point for e2e tests: real code-server + Debian Chromium + the probe extension.
export { freePort, startCodeServer, liveProcesses, DEFAULT_SETTINGS } from './lib/code-server.ts';
export type { CodeServer, StartOptions } from './lib/code-server.ts';
export { launchBrowser, openWorkbench } from './lib/browser.ts';
export { screenshotOnFailure, saveLog, saveDir, saveText } from './lib/artifacts.ts';
export { closeModalEditor, runInTerminal, runCommand } from './lib/workbench.ts';
export { waitForFile } from './lib/files.ts';
export { packageVsix, packageProbe } from './lib/packaging.ts';
export { repoRoot, resultsDir } from './lib/paths.ts';
export { target, named, vscodeAtLeast, scenarioSelected } from './lib/target.ts';
