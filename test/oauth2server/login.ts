// Headless sign-in at the plain server: its authorization endpoint approves a user without a page
// (the configured one, or `login`), so this only follows that one redirect, as a browser would.

/** Returns the redirect to the client's redirect_uri (`…?code&state&iss`, or `error=…`) without requesting it. */
export async function completeAuthorization(authorizationUrl: string, opts: { login?: string } = {}): Promise<string> {
  const url = new URL(authorizationUrl);
  if (opts.login) url.searchParams.set('login', opts.login);
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`the plain server answered HTTP ${res.status} instead of a redirect: ${await res.text()}`);
  return location;
}
