// Which Kubernetes API servers `tokenrelay kubectl-credential` gives the token to, when kubectl
// says which one it is calling (KUBERNETES_EXEC_INFO's spec.cluster.server, sent with the
// kubeconfig's provideClusterInfo: true): https only (plain http only to a loopback host), and,
// when tokenrelay.kubernetes.clusters is set, only those hosts, matched as tokenrelay.git.hosts.
import { isLoopbackHost } from '../oauth/loopbackHost.ts';
import { hostMatches } from './gitAccess.ts';

export const CLUSTERS_SETTING = 'tokenrelay.kubernetes.clusters';
const PROVIDE_INFO = 'set "provideClusterInfo: true" in the kubeconfig user\'s exec section, so kubectl says which cluster it calls';

/** Why the cluster at `server` (undefined: kubectl did not say) gets no token, or undefined when it does. */
export function clusterRefusal(server: string | undefined, clusters: readonly string[] | undefined): string | undefined {
  if (server === undefined) {
    return clusters ? `${CLUSTERS_SETTING} is set, but kubectl did not say which cluster the token is for; ${PROVIDE_INFO}` : undefined;
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return `kubectl named the cluster "${server}", which is not a URL`;
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    return `the cluster ${url.host} is reached over plain http, which would send the token unencrypted; use its https address (plain http only to 127.0.0.1, ::1 or localhost)`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `the cluster "${server}" is not an http(s) URL`;
  const host = url.host.toLowerCase();
  if (clusters && !clusters.some((p) => hostMatches(p, host))) {
    return `${host} is not in ${CLUSTERS_SETTING} (${clusters.join(', ') || 'empty'}); add it there (as host:port when it has a port) if that API server accepts your identity provider's tokens`;
  }
  return undefined;
}
