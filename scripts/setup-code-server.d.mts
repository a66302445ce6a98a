// Types for scripts/setup-code-server.mjs (imported by the e2e harness).
export const repoRoot: string;
export const installDir: string;
/** Installs code-server 4.100.3 on first use; resolves to its entry script (run with `node <entry>`). */
export function ensureCodeServer(): Promise<string>;
