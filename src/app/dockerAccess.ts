// Which registry a docker server URL names, decided alike by the window (tokenrelay.docker.registries)
// and the docker helper (its input check). Pure and import-free: the helper bundle includes it.

/** Docker credential helper username when the window sets none. */
export const DEFAULT_DOCKER_USERNAME = 'oauth2';

/**
 * The registry docker names by `serverURL`: a bare host (`registry.example.com:5000`, which docker
 * reaches over https) or a URL (`https://index.docker.io/v1/`); `host` is `host[:port]` in lower
 * case, `https` false for a plain-http URL (never answered: a bearer token must not travel
 * unencrypted). Undefined when `serverURL` is not a registry address at all.
 */
export function registryOf(serverURL: string): { host: string; https: boolean } | undefined {
  const text = serverURL.trim();
  if (!text || /[\s\\]/.test(text)) return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname || url.username || url.password) return undefined;
  return { host: url.host.toLowerCase(), https: url.protocol === 'https:' };
}
