// docker-credential-tokenrelay: a docker credential helper (docker/docker-credential-helpers
// protocol) answering the window's current access token for the registries listed in
// tokenrelay.docker.registries. Its own entry point (dist/docker-credential-tokenrelay.js), because
// docker runs `docker-credential-<name> <action>`. As the protocol requires, every error is one line
// on standard output with a non-zero exit; "credentials not found in native keychain" (exit 1) tells
// docker to go on without credentials. Never echoes its input: a mistaken `store` payload carries a
// secret.
import { EXIT } from '../ipc/tokenProtocol.ts';
import { registryOf } from '../app/dockerAccess.ts';
import { redactor } from '../core/redact.ts';
import { CliError, out, printHelp, readStdin } from './common.ts';
import { call } from './connection.ts';
import { version } from '../../package.json';

const NAME = 'docker-credential-tokenrelay';
const NOT_FOUND = 'credentials not found in native keychain';
const ACTIONS = 'store, get, erase, list or version';
const REGISTRY_EXAMPLE = `for example: echo registry.example.com | ${NAME} get`;

const help = `Usage: ${NAME} <store|get|erase|list|version>

A docker credential helper: docker runs it for the registries your ~/.docker/config.json hands to
it ("credHelpers": {"registry.example.com": "tokenrelay"}).

  get      reads a registry on standard input; prints {"ServerURL","Username","Secret"} with the
           tokenrelay.docker.username setting (default "oauth2") and the current access token,
           for registries listed in tokenrelay.docker.registries; for any other registry it
           prints "${NOT_FOUND}" and exits 1
  list     prints {"<registry>":"<username>"} for the listed registries
  store    accepts and discards what "docker login" stores: Token Relay owns the session
  erase    changes nothing ("docker logout" cannot end the shared session; sign out in VS Code)
  version  prints the version`;

const fail = (message: string, code: number = EXIT.usage) => new CliError(code, message);

/** Go's encoding/json output (what the reference helpers print): HTML-significant characters escaped, one newline. */
function goJson(value: unknown): string {
  return `${JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

async function readServerURL(): Promise<string> {
  const serverURL = (await readStdin()).trim();
  if (!serverURL) throw fail(`no credentials server URL: give the registry on standard input (${REGISTRY_EXAMPLE})`);
  if (!registryOf(serverURL)) throw fail(`standard input is not a registry server URL: give a host such as registry.example.com:5000 or a URL such as https://registry.example.com (${REGISTRY_EXAMPLE})`);
  return serverURL;
}

async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) return printHelp(help);
  if (argv.length !== 1) throw fail(`Usage: ${NAME} <store|get|erase|list|version> (one action; run "${NAME} --help")`);
  switch (argv[0]) {
    case 'get': {
      const serverURL = await readServerURL();
      const answer = await call('docker-credential', { serverURL });
      if (answer.secret === undefined) throw fail(NOT_FOUND, EXIT.error);
      await out(goJson({ ServerURL: serverURL, Username: answer.username, Secret: answer.secret }));
      return EXIT.ok;
    }
    case 'list': {
      const answer = await call('docker-credential', {});
      await out(goJson(Object.fromEntries([...answer.registries].sort().map((r) => [r, answer.username]))));
      return EXIT.ok;
    }
    case 'store': {
      let creds: unknown;
      try {
        creds = JSON.parse(await readStdin());
      } catch {
        throw fail('store expects the JSON credentials docker sends ({"ServerURL":…,"Username":…,"Secret":…}) on standard input');
      }
      const { ServerURL, Username } = (creds ?? {}) as { ServerURL?: unknown; Username?: unknown };
      if (typeof ServerURL !== 'string' || !ServerURL) throw fail('no credentials server URL: store expects "ServerURL" in the JSON on standard input');
      if (typeof Username !== 'string' || !Username) throw fail('no credentials username: store expects "Username" in the JSON on standard input');
      return EXIT.ok; // discarded: the token comes from the shared session
    }
    case 'erase':
      await readServerURL();
      return EXIT.ok; // nothing stored here
    case 'version':
      await out(`${NAME} (tokenrelay) ${version}\n`);
      return EXIT.ok;
    default:
      throw fail(`Unknown credential action \`${argv[0]}\`: use ${ACTIONS}`);
  }
}

run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const known = err instanceof CliError;
    process.exitCode = known ? err.exitCode : EXIT.error;
    void out(`${redactor.redact(known ? err.message : `unexpected error: ${(err as Error)?.message ?? String(err)}. Please report it.`)}\n`);
  },
);
