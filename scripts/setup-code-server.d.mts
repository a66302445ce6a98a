// Types for scripts/setup-code-server.mjs (imported by the e2e harness and the demo).
export const repoRoot: string;
/** The 4.100.3 install folder, <repo>/.cache/code-server. */
export const installDir: string;
export const NODE24_VERSION: string;
export interface CodeServerSpec {
  /** The VS Code version this code-server serves. */
  vscode: string;
  /** 'system': the Node that runs the tests; else the Node version installed from npm into .cache/node24/. */
  node: 'system' | string;
  /** Install folder under <repo>/.cache/. */
  dir: string;
  approxMb: number;
  approxMinutes: number;
}
/** Every code-server version the e2e suite knows, by code-server version. */
export const CODE_SERVERS: Record<string, CodeServerSpec>;
/** The version used when none is named: 4.100.3 (the demo uses it). */
export const DEFAULT_CODE_SERVER: string;
export const NEWEST_CODE_SERVER: string;
export interface CodeServerRuntime {
  version: string;
  vscodeVersion: string;
  /** code-server's entry script: run `node <entry> …` with `node` below. */
  entry: string;
  /** The Node binary to run it with (process.execPath for 4.100.3, Node 24 for 4.139.1). */
  node: string;
}
/** Installs the version (and its Node) on first use, idempotently, with progress on stderr. */
export function ensureCodeServerRuntime(version?: string): Promise<CodeServerRuntime>;
/** Installs on first use; resolves to the entry script (default version 4.100.3). */
export function ensureCodeServer(version?: string): Promise<string>;
/** Installs Node 24 from the npm registry into .cache/node24/ on first use. */
export function ensureNode24(): Promise<{ node: string; nodedir: string }>;
