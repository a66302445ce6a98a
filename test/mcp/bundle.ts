// The CLI as shipped, plus dist/mcp-proxy.js beside dist/cli.js (a second esbuild entry, as in
// esbuild.mjs): mcp-proxy requires it at run time.
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { cliBundle, repoRoot, type CliBundle } from '../cli/support.ts';

let bundle: Promise<CliBundle & { relayJs: string }> | undefined;

export function mcpBundle(): Promise<CliBundle & { relayJs: string }> {
  bundle ??= (async () => {
    const cli = await cliBundle();
    const relayJs = join(dirname(cli.cliJs), 'mcp-proxy.js');
    await build({
      entryPoints: [join(repoRoot, 'src', 'cli', 'mcp', 'relay.ts')], outfile: relayJs,
      bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, legalComments: 'none', logLevel: 'error',
    });
    return { ...cli, relayJs };
  })();
  return bundle;
}
