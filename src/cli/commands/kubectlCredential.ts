// tokenrelay kubectl-credential: a client-go exec credential plugin. Prints an ExecCredential with the
// current access token and its expiry; kubectl caches it in memory until then and runs the plugin
// again afterwards (or on a 401), so every kubectl process gets the window's shared token.
import { EXIT } from '../../ipc/tokenProtocol.ts';
import { CliError, PROG, out, parse, printHelp, usageError, type Command } from '../common.ts';
import { call } from '../connection.ts';

const GROUP = 'client.authentication.k8s.io';
const API_VERSIONS = [`${GROUP}/v1`, `${GROUP}/v1beta1`];
const EXEC_INFO = 'KUBERNETES_EXEC_INFO';

const help = `Usage: ${PROG} kubectl-credential [--api-version v1|v1beta1]

A kubectl (client-go) exec credential plugin: prints an ExecCredential whose status.token is the
current access token and status.expirationTimestamp its expiry. Use it in a kubeconfig user:

  users:
  - name: tokenrelay
    user:
      exec:
        apiVersion: ${GROUP}/v1
        command: tokenrelay
        args: [kubectl-credential]
        interactiveMode: Never

Options:
  --api-version V   v1 (default) or v1beta1, for kubeconfigs written for older kubectl; the
                    apiVersion kubectl passes in $${EXEC_INFO} wins over it
  -h, --help        show this help

Exit codes: 0 ok, 1 error, 2 usage, 3 not signed in, 4 no Token Relay window, 5 identity
provider unreachable, 6 a Token Relay directory cannot be written.`;

export const kubectlCredentialCommand: Command = {
  name: 'kubectl-credential',
  summary: 'kubectl exec credential plugin (ExecCredential JSON)',
  help,
  async run(argv) {
    const { values } = parse('kubectl-credential', argv, { 'api-version': { type: 'string' } });
    if (values.help) return printHelp(help);
    const apiVersion = apiVersionFromExecInfo(process.env[EXEC_INFO]) ?? apiVersionFromFlag(values['api-version']);
    const grant = await call('token', {});
    const credential = {
      apiVersion,
      kind: 'ExecCredential',
      // Whole seconds, rounded down: kubectl stops using the token no later than the server does.
      status: { token: grant.accessToken, expirationTimestamp: new Date(Math.floor(grant.expiresAt / 1000) * 1000).toISOString().replace('.000Z', 'Z') },
    };
    await out(`${JSON.stringify(credential)}\n`);
    return EXIT.ok;
  },
};

function apiVersionFromFlag(value: string | undefined): string {
  if (value === undefined) return API_VERSIONS[0];
  const full = value.includes('/') ? value : `${GROUP}/${value}`;
  if (!API_VERSIONS.includes(full)) throw usageError(`--api-version "${value}" is not supported; use v1 or v1beta1`, 'kubectl-credential');
  return full;
}

/** kubectl tells the plugin which apiVersion it expects; answering any other one fails the request. */
function apiVersionFromExecInfo(text: string | undefined): string | undefined {
  if (!text) return undefined;
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch {
    throw new CliError(EXIT.usage, `${EXEC_INFO} is not JSON. kubectl sets it; unset it when running "${PROG} kubectl-credential" by hand.`);
  }
  const apiVersion = (info as { apiVersion?: unknown } | null)?.apiVersion;
  if (typeof apiVersion !== 'string' || !API_VERSIONS.includes(apiVersion)) {
    throw new CliError(EXIT.usage, `kubectl asks for ExecCredential apiVersion ${JSON.stringify(apiVersion)}, which ${PROG} does not speak. Set the kubeconfig exec apiVersion to ${API_VERSIONS.join(' or ')}.`);
  }
  return apiVersion;
}
