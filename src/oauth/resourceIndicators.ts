// How a refresh asks for another audience. RFC 8707 §2.2: the `resource` parameter. Entra ID's v2
// endpoints ignore `resource`; there the audience is the scope `<resource>/.default` (with
// offline_access, so the refresh token keeps rotating), one resource per request.

const ENTRA_HOSTS = new Set(['login.microsoftonline.com', 'login.microsoftonline.us', 'login.partner.microsoftonline.cn']);

export function isEntra(issuer: string): boolean {
  try {
    return ENTRA_HOSTS.has(new URL(issuer).hostname.toLowerCase());
  } catch {
    return false;
  }
}

/** The extra token-request parameters that ask for `resource`'s access token. */
export function audienceParameters(issuer: string, resource: string, scopes: readonly string[]): Record<string, string> {
  if (!isEntra(issuer)) return { resource };
  const defaultScope = `${resource.replace(/\/+$/, '')}/.default`;
  const extra = scopes.filter((s) => s === 'offline_access' || s === 'openid' || s === 'profile' || s === 'email');
  return { scope: [defaultScope, ...new Set(['offline_access', ...extra])].join(' ') };
}
