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
        provideClusterInfo: true

With provideClusterInfo, kubectl says which API server it calls: plain http to a host other than
127.0.0.1, ::1 or localhost gets no token, and when the tokenrelay.kubernetes.clusters setting
lists hosts, only those do (then a kubectl that does not say gets none either).

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
    const info = execInfo(process.env[EXEC_INFO]);
    const apiVersion = info.apiVersion ?? apiVersionFromFlag(values['api-version']);
    // The host decides (tokenrelay.kubernetes.clusters is a window setting); nothing is printed when it declines.
    const { declined, profile } = await call('kubernetes-cluster', { server: info.server });
    if (declined) throw new CliError(EXIT.error, `No token for kubectl: ${declined}.`);
    // The profile whose clusters list this server (or the one named) gives the token.
    const grant = await call('token', { profile });
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

/**
 * What kubectl says in KUBERNETES_EXEC_INFO: the apiVersion it expects (answering any other one
 * fails the request) and, with provideClusterInfo, the API server it calls.
 */
function execInfo(text: string | undefined): { apiVersion?: string; server?: string } {
  if (!text) return {};
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch {
    throw new CliError(EXIT.usage, `${EXEC_INFO} is not JSON. kubectl sets it; unset it when running "${PROG} kubectl-credential" by hand.`);
  }
  const { apiVersion, spec } = (info ?? {}) as { apiVersion?: unknown; spec?: { cluster?: { server?: unknown } } };
  if (typeof apiVersion !== 'string' || !API_VERSIONS.includes(apiVersion)) {
    throw new CliError(EXIT.usage, `kubectl asks for ExecCredential apiVersion ${JSON.stringify(apiVersion)}, which ${PROG} does not speak. Set the kubeconfig exec apiVersion to ${API_VERSIONS.join(' or ')}.`);
  }
  const server = spec?.cluster?.server;
  if (server !== undefined && (typeof server !== 'string' || !server)) {
    throw new CliError(EXIT.usage, `${EXEC_INFO} names no usable cluster server (spec.cluster.server is ${JSON.stringify(server)}). kubectl sets it; unset it when running "${PROG} kubectl-credential" by hand.`);
  }
  return { apiVersion, server };
}
