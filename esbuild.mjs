// Bundles the extension host entry and the CLI for Node. `vscode` stays external (the host provides it).
import { build, context } from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['vscode'],
  sourcemap: production ? false : 'linked',
  minify: production,
  legalComments: 'none',
  logLevel: 'info',
  // Failpoints (src/app/failpoints.ts) are for test bundles only: false removes them from every shipped file.
  define: { TOKENRELAY_FAILPOINTS: 'false' },
};

const builds = [
  { ...common, entryPoints: ['src/vscode/extension.ts'], outfile: 'dist/extension.js' },
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  // The hosts (the core, the OAuth client, the application layer): required by dist/cli.js only when no
  // window or agent answers (the one-shot host), or for `tokenrelay agent`.
  { ...common, entryPoints: ['src/cli/hostBundle.ts'], outfile: 'dist/host.js' },
  // mcp-proxy's relay and the MCP SDK, required by dist/cli.js only when that command runs.
  { ...common, entryPoints: ['src/cli/mcp/relay.ts'], outfile: 'dist/mcp-proxy.js' },
  { ...common, entryPoints: ['src/cli/dockerCredentialMain.ts'], outfile: 'dist/docker-credential-tokenrelay.js', banner: { js: '#!/usr/bin/env node' } },
];

if (watch) {
  for (const options of builds) await (await context(options)).watch();
} else {
  await Promise.all(builds.map((options) => build(options)));
}
