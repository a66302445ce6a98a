// Headless "browser" for the IdP's devInteractions and device pages: fetch with manual
// redirects and a cookie jar, so tests and the demo need no real browser.

const DEFAULT_LOGIN = 'test-user';
const MAX_STEPS = 20;

class Browser {
  private readonly cookies = new Map<string, string>();
  constructor(readonly origin: string) {}

  get(url: string): Promise<Response> { return this.send(url, { method: 'GET' }); }

  post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const headers = { accept: 'text/html', ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) };
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) this.keep(line);
    return res;
  }

  // Paths are ignored on purpose: sending every cookie everywhere is harmless here.
  private keep(setCookie: string): void {
    const [pair = '', ...attributes] = setCookie.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attributes.some((a) => {
      const [key = '', val = ''] = a.split('=').map((s) => s.trim());
      return (/^max-age$/i.test(key) && Number(val) <= 0) || (/^expires$/i.test(key) && Date.parse(val) <= Date.now());
    });
    if (expired || value === '') this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

interface Form { action: string; fields: Record<string, string> }

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot);/gi, (_m, e: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"' };
    if (e[0] !== '#') return named[e.toLowerCase()] ?? '';
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

const attr = (tag: string, name: string): string | undefined =>
  new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(tag)?.[1];

function parseForm(html: string, base: string): Form | undefined {
  const match = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  const action = match ? attr(match[1] ?? '', 'action') : undefined;
  if (!match || action === undefined) return undefined;
  const fields: Record<string, string> = {};
  for (const [input] of (match[2] ?? '').matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(input, 'name');
    const value = attr(input, 'value');
    if (name !== undefined && value !== undefined) fields[decode(name)] = decode(value);
  }
  return { action: new URL(decode(action), base).href, fields };
}

function pageError(html: string): string | undefined {
  const text = /id="error"[^>]*>([^<]*)</.exec(html)?.[1];
  return text === undefined ? undefined : decode(text);
}

type Outcome = { redirect: string } | { html: string };

/** Follows same-origin redirects and answers login/consent pages until the IdP leaves its origin or shows a plain page. */
async function drive(browser: Browser, first: Response, opts: { login: string; abort: boolean }): Promise<Outcome> {
  let res = first;
  for (let step = 0; step < MAX_STEPS; step++) {
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, res.url || browser.origin);
      if (next.origin !== browser.origin) return { redirect: next.href };
      res = await browser.get(next.href);
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`IdP answered HTTP ${res.status} at ${new URL(res.url).pathname}: ${pageError(html) ?? ''}`);
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    const form = parseForm(html, browser.origin);
    if (!prompt || !form) return { html };
    if (opts.abort) res = await browser.get(`${form.action}/abort`);
    else if (prompt === 'login') res = await browser.post(form.action, { ...form.fields, login: opts.login, password: 'any-password' });
    else if (prompt === 'consent') res = await browser.post(form.action, form.fields);
    else throw new Error(`unsupported interaction prompt "${prompt}"`);
  }
  throw new Error(`IdP interaction did not finish within ${MAX_STEPS} steps`);
}

/**
 * Signs in (or aborts) through devInteractions and returns the final redirect to the
 * client's redirect_uri (`...?code&state&iss`, or `error=access_denied` with abort) without requesting it.
 */
export async function completeAuthorization(authorizationUrl: string, opts: { login?: string; abort?: boolean } = {}): Promise<string> {
  const browser = new Browser(new URL(authorizationUrl).origin);
  const outcome = await drive(browser, await browser.get(authorizationUrl), {
    login: opts.login ?? DEFAULT_LOGIN,
    abort: opts.abort ?? false,
  });
  if ('redirect' in outcome) return outcome.redirect;
  throw new Error(`authorization ended on a page instead of a redirect: ${pageError(outcome.html) ?? 'no error shown'}`);
}

/** The user side of the device flow: enter the code, confirm, sign in, consent. */
export async function approveDeviceCode(idpIssuer: string, userCode: string, login = 'device-user'): Promise<void> {
  const browser = new Browser(new URL(idpIssuer).origin);
  let res = await browser.get(`${idpIssuer}/device?user_code=${encodeURIComponent(userCode)}`);
  // Two forms: the auto-submitted code form (xsrf + user_code), then the confirmation (confirm=yes).
  for (const step of ['code entry', 'confirmation']) {
    const html = await res.text();
    const form = parseForm(html, idpIssuer);
    const error = pageError(html);
    if (res.status !== 200 || !form || error) throw new Error(`device ${step} failed (HTTP ${res.status}): ${error ?? 'no form'}`);
    res = await browser.post(form.action, form.fields);
  }
  const outcome = await drive(browser, res, { login, abort: false });
  if (!('html' in outcome) || !outcome.html.includes('id="device-success"')) {
    const detail = 'html' in outcome ? pageError(outcome.html) : `redirected to ${new URL(outcome.redirect).pathname}`;
    throw new Error(`device approval did not succeed: ${detail ?? 'unknown page'}`);
  }
}
