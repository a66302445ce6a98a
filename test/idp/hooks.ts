// Event listeners and token-endpoint middleware: count grants, remember issued tokens,
// and surface the real invalid_grant reason (oidc-provider hides it in err.error_detail).
import type Provider from 'oidc-provider';
import type { OidcError } from 'oidc-provider';
import type { CounterName, CounterStore } from './counters.ts';

const GRANT_COUNTERS: Record<string, CounterName> = {
  refresh_token: 'refreshGrants',
  authorization_code: 'authorizationCodeGrants',
  'urn:ietf:params:oauth:grant-type:device_code': 'deviceCodeGrants',
};

export function attachHooks(provider: Provider, counters: CounterStore, log: (line: string) => void): void {
  provider.on('grant.success', (ctx) => {
    const grantType = String(ctx.oidc?.params?.grant_type);
    const counter = GRANT_COUNTERS[grantType];
    if (counter) counters.bump(counter);
    log(`grant.success ${grantType}`);
  });

  provider.on('grant.error', (ctx, err) => {
    const { error, error_detail: detail } = err as OidcError;
    ctx.state.errorDetail = detail;
    counters.error(detail ?? error ?? 'unknown');
    log(`grant.error ${error ?? '?'}${detail ? ` (${detail})` : ''}`);
  });

  provider.on('grant.revoked', () => {
    counters.bump('grantRevocations');
    log('grant.revoked');
  });

  provider.on('server_error', (ctx, err) => log(`server_error ${ctx.path}: ${(err as Error).message}`));

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/token') return;
    const basic = /^basic /i.test(ctx.req.headers.authorization ?? '');
    counters.tokenAuth(basic ? 'client_secret_basic' : ctx.oidc?.body?.client_secret ? 'client_secret_post' : 'none');
    const body = ctx.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') return;
    if (ctx.status === 200 && typeof body.access_token === 'string') {
      const refresh = typeof body.refresh_token === 'string' ? body.refresh_token : undefined;
      counters.recordIssued(body.access_token, refresh, typeof body.id_token === 'string' ? body.id_token : undefined);
    } else if (typeof body.error === 'string' && typeof ctx.state.errorDetail === 'string') {
      body.error_description = ctx.state.errorDetail;
    }
  });
}
