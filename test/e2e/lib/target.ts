// Which VS Code an e2e file runs against, and which scenarios. test/run.mjs runs the e2e files once
// per version of its matrix and sets, for each run:
//   TOKENRELAY_CODE_SERVER   a code-server version from scripts/setup-code-server.mjs (default 4.100.3)
//   TOKENRELAY_E2E_SCENARIOS comma-separated scenario letters (default: every scenario the version has)
// Every test name starts with the VS Code version, so a report of two runs says which one failed.
import { CODE_SERVERS, DEFAULT_CODE_SERVER } from '../../../scripts/setup-code-server.mjs';

const version = process.env.TOKENRELAY_CODE_SERVER || DEFAULT_CODE_SERVER;
const spec = CODE_SERVERS[version];
if (!spec) {
  throw new Error(`TOKENRELAY_CODE_SERVER=${version} is not a known code-server version (${Object.keys(CODE_SERVERS).join(', ')})`);
}

export const target = {
  /** code-server version, e.g. 4.139.1. */
  codeServer: version,
  /** VS Code version it serves, e.g. 1.139.1. */
  vscode: spec.vscode,
};

/** `[VS Code 1.139.1] name`: the prefix every e2e test and suite name carries. */
export const named = (name: string): string => `[VS Code ${target.vscode}] ${name}`;

const parts = (v: string) => v.split('.').map(Number);

/** Whether the target VS Code is `min` or newer (e.g. '1.105.0' for the WWW-Authenticate getSession form). */
export function vscodeAtLeast(min: string): boolean {
  const [a, b] = [parts(target.vscode), parts(min)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

const only = process.env.TOKENRELAY_E2E_SCENARIOS?.split(',').map((s) => s.trim()).filter(Boolean);

/** Whether scenario `id` (a letter) is part of this run. Scenarios left out are not registered at all. */
export const scenarioSelected = (id: string): boolean => !only || only.includes(id);
