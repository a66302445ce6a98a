// Optional reuse-grace mode (Okta's "grace period", Auth0's "reuse interval"): a rotated refresh
// token presented again within G seconds of its first successful use gets that use's token
// response replayed instead of revoking the grant. G = 0 (the default) leaves the server strict.
import { IncomingMessage } from 'node:http';
import type Provider from 'oidc-provider';
import type { OidcContext } from 'oidc-provider';
import type { CounterStore } from './counters.ts';

interface Use {
  clientId: string | null;
  /** Set while the first use is in flight: a concurrent presentation waits for its answer. */
  pending?: Promise<void>;
  body?: Record<string, unknown>;
  at?: number;
}

export function checkGrace(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`reuse grace must be seconds >= 0, got ${seconds}`);
  return seconds;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** oidc-provider parses the body itself and warns about pre-parsed ones, so hand it an unread copy. */
function unread(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new IncomingMessage(req.socket);
  const { method, url, headers, rawHeaders, httpVersion, httpVersionMajor, httpVersionMinor } = req;
  // complete: an incomplete IncomingMessage destroys the shared socket when it is torn down.
  Object.assign(copy, { method, url, headers, rawHeaders, httpVersion, httpVersionMajor, httpVersionMinor, complete: true });
  copy.push(body);
  copy.push(null);
  return copy;
}

export interface GraceDeps {
  seconds: () => number;
  /** False once the presented token is gone from the store (grant revoked): no replay then. */
  live: (refreshToken: string) => boolean;
  counters: CounterStore;
  log: (line: string) => void;
}

/** Registered before attachHooks, so a replay skips hooks.ts (it issues nothing new). */
export function attachGrace(provider: Provider, deps: GraceDeps): void {
  const uses = new Map<string, Use>(); // insertion order ~ time order, pruned from the front

  const fresh = (use: Use) => use.at !== undefined && Date.now() - use.at <= deps.seconds() * 1000;
  const prune = () => {
    for (const [token, use] of uses) {
      if (use.pending || fresh(use)) break;
      uses.delete(token);
    }
  };

  provider.use(async (ctx: OidcContext, next) => {
    if (deps.seconds() === 0 || ctx.method !== 'POST' || ctx.path !== '/token') return next();
    const raw = await readAll(ctx.req);
    const req = unread(ctx.req, raw);
    ctx.req = ctx.request.req = ctx.response.req = req;
    const params = new URLSearchParams(raw.toString('utf8'));
    const token = params.get('refresh_token');
    if (params.get('grant_type') !== 'refresh_token' || !token) return next();
    const clientId = params.get('client_id');

    for (let prior = uses.get(token); prior; prior = uses.get(token)) {
      if (prior.pending) { await prior.pending; continue; }
      if (!fresh(prior) || prior.clientId !== clientId || !deps.live(token)) break; // strict path
      deps.counters.bump('graceReuses');
      deps.log('grace reuse: replayed the first use\'s token response');
      ctx.status = 200;
      ctx.set('cache-control', 'no-store');
      ctx.body = { ...prior.body };
      return;
    }

    let settle!: () => void;
    const use: Use = { clientId, pending: new Promise<void>((resolve) => { settle = resolve; }) };
    uses.set(token, use);
    try {
      await next();
    } finally {
      const body = ctx.body as Record<string, unknown> | undefined;
      const ok = ctx.status === 200 && typeof body?.refresh_token === 'string';
      if (ok) Object.assign(use, { body: { ...body }, at: Date.now() });
      else if (uses.get(token) === use) uses.delete(token); // failed first use: nothing to replay
      use.pending = undefined;
      settle();
      prune();
    }
  });
}
