// Minimal HTML for the device-flow and error pages; the defaults log a "you SHOULD change"
// notice to stdout, which would corrupt main.ts's one-line JSON handshake.
import type { OidcContext } from 'oidc-provider';

interface ErrorOut { error?: string; error_description?: string }

function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
    + `<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function describe(out: ErrorOut | undefined, err: Error | undefined): string {
  if (!err) return '<p>Enter the code displayed on your device</p>';
  const text = err.name === 'AbortedError' ? 'the sign-in request was aborted' : out?.error_description ?? 'error';
  return `<p id="error">${esc(text)}</p>`;
}

export const devicePages = {
  async userCodeInputSource(ctx: OidcContext, form: string, out?: ErrorOut, err?: Error): Promise<void> {
    ctx.type = 'html';
    ctx.body = page('Device sign-in', `${describe(out, err)}${form}`
      + '<button type="submit" form="op.deviceInputForm">Continue</button>');
  },
  async userCodeConfirmSource(ctx: OidcContext, form: string, _client: unknown, _info: unknown, userCode: string): Promise<void> {
    ctx.type = 'html';
    ctx.body = page('Confirm device', `<p>Code: <code>${esc(userCode)}</code></p>${form}`
      + '<button type="submit" form="op.deviceConfirmForm">Continue</button>');
  },
  async successSource(ctx: OidcContext): Promise<void> {
    ctx.type = 'html';
    ctx.body = page('Sign-in Success', '<p id="device-success">You can close this page.</p>');
  },
};

export async function renderError(ctx: OidcContext, out: ErrorOut): Promise<void> {
  ctx.type = 'html';
  ctx.body = page('Error', `<p id="error">${esc(out.error)}: ${esc(out.error_description ?? '')}</p>`);
}
