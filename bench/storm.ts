// `npm run bench` — the storm against the real IdP, coordinated vs naive, per secret-store model.
// `npm run bench -- --json` prints exactly one JSON object: { runs: [ { …, naive: { … } } ] }.
import { parseArgs } from 'node:util';
import { runStorm, median, type StormReport } from '../test/harness/storm.ts';
import { startIdp } from '../test/idp/server.ts';
import { World } from '../test/harness/fixture.ts';
import { OAuthClient } from '../src/oauth/oauthClient.ts';
import { signInWithLoopback } from '../src/oauth/loopbackFlow.ts';
import { completeAuthorization } from '../test/idp/login.ts';
import type { StoreModel } from '../test/harness/stores.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    windows: { type: 'string', default: '8' },
    requests: { type: 'string', default: '100' },
    extra: { type: 'string', default: '16' },
    expiries: { type: 'string', default: '5' },
    ttl: { type: 'string', default: '5' },
    models: { type: 'string', default: 'shared-lag,snapshot' },
  },
});

const say = (line: string) => { if (!values.json) console.log(line); };

async function idpRefreshMs(): Promise<number> {
  const world = await World.create({ storeModel: 'shared-lag', ttl: 60 });
  try {
    const client = new OAuthClient({ issuer: world.idp.issuer, clientId: world.idp.clientId, scopes: ['openid', 'offline_access', 'profile', 'api:read'] });
    const { tokens } = await signInWithLoopback(client, { openBrowser: async (url) => { await fetch(await completeAuthorization(url)); } });
    let rt = tokens.refreshToken!;
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      rt = (await client.refresh(rt, AbortSignal.timeout(5000))).refreshToken!;
      if (i >= 10) times.push(performance.now() - t); // the first ten warm the JIT
    }
    return median(times);
  } finally {
    await world.close();
  }
}

type Summary = Omit<StormReport, 'tokensHandedOut' | 'failures' | 'logs' | 'issuedTokens' | 'inactiveTokens' | 'refreshesPerExpiry'> & { idpRefreshMs: number };
const summary = (r: StormReport, idpMs: number): Summary => ({
  storeModel: r.storeModel, windows: r.windows, requestsPerWindow: r.requestsPerWindow, extraProcesses: r.extraProcesses,
  expiries: r.expiries, refreshGrants: r.refreshGrants, failedRequests: r.failedRequests, grantRevocations: r.grantRevocations,
  waiterLatencyMs: r.waiterLatencyMs, stormMs: r.stormMs, idpRefreshMs: idpMs,
});

async function main(): Promise<void> {
  const shape = {
    windows: Number(values.windows), requestsPerWindow: Number(values.requests), extraProcesses: Number(values.extra),
    expiries: Number(values.expiries), ttl: Number(values.ttl),
  };
  const idpMs = await idpRefreshMs();
  say(`IdP refresh round trip (median of 30): ${idpMs} ms`);
  const runs = [];
  for (const storeModel of values.models!.split(',') as StoreModel[]) {
    say(`\n${storeModel}: ${shape.windows} windows × ${shape.requestsPerWindow} requests + ${shape.extraProcesses} extra processes, ${shape.expiries} expiries`);
    const idp = await startIdp({ accessTokenTtl: shape.ttl });
    try {
      const coordinated = summary(await runStorm({ ...shape, storeModel, idp }), idpMs);
      const naive = summary(await runStorm({ ...shape, storeModel, idp, naive: true }), idpMs);
      runs.push({ ...coordinated, naive });
      if (!values.json) console.table({ tokenrelay: flat(coordinated), naive: flat(naive) });
      const ok = coordinated.refreshGrants === coordinated.expiries && coordinated.failedRequests === 0 && coordinated.grantRevocations === 0
        && coordinated.waiterLatencyMs.p99 <= 20 && coordinated.stormMs <= idpMs + 50;
      say(`targets (grants = expiries, 0 failed, 0 revoked, waiter p99 ≤ 20 ms, storm ≤ IdP + 50 ms): ${ok ? 'met' : 'NOT met'}`);
    } finally {
      await idp.close();
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ runs })}\n`);
}

function flat(s: Summary) {
  return {
    refreshGrants: s.refreshGrants, expiries: s.expiries, failedRequests: s.failedRequests, grantRevocations: s.grantRevocations,
    'waiter p50 ms': s.waiterLatencyMs.p50, 'waiter p99 ms': s.waiterLatencyMs.p99, 'storm ms': s.stormMs,
  };
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
