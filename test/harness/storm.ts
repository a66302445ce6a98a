// The storm: W windows × R concurrent getToken at the instant of expiry, plus K short-lived
// processes joining mid-storm, over several expiries. Used by the tests and by `npm run bench`.
import { percentile as nearestRank } from '../support/stats.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { World, until, PLAIN_COPY_KEY, type TestServerKind } from './fixture.ts';
import type { TokenResult, WindowConfig } from './protocol.ts';
import { openStore, type StoreModel } from './stores.ts';
import type { Idp } from '../idp/server.ts';

export interface StormOptions {
  storeModel: StoreModel;
  windows: number;
  requestsPerWindow: number;
  extraProcesses: number;
  expiries: number;
  ttl: number;
  lagMs?: number;
  naive?: boolean;
  /** Run a benchmark baseline in every process instead of the broker (bench/storm.ts). */
  baseline?: WindowConfig['baseline'];
  idp?: Idp;
  /** The test server when no `idp` is given (default oidc-provider). */
  server?: TestServerKind;
  /** Introspect every token handed out in a round, while it is still within its lifetime. */
  verify?: boolean;
}

export interface StormReport {
  storeModel: StoreModel;
  windows: number;
  requestsPerWindow: number;
  extraProcesses: number;
  expiries: number;
  refreshGrants: number;
  failedRequests: number;
  grantRevocations: number;
  waiterLatencyMs: { p50: number; p99: number };
  stormMs: number;
  /** Median CPU per expiry, all processes on the machine: see busyMs(). */
  cpuMs: number;
  tokensHandedOut: string[];
  inactiveTokens: number;
  refreshesPerExpiry: number[];
  failures: string[];
  logs: string;
  issuedTokens: string[];
}

const EXTRA_SPREAD_MS = 40;

export async function runStorm(o: StormOptions): Promise<StormReport> {
  const world = await World.create({ storeModel: o.storeModel, lagMs: o.lagMs ?? 200, ttl: o.ttl, idp: o.idp, server: o.server });
  try {
    await world.signIn();
    const credentialFile = join(world.dir, 'credentials.json');
    if (o.baseline) await copySignIn(world, o.storeModel, credentialFile);
    const mode = { naive: o.naive, baseline: o.baseline, credentialFile, fingerprintsOnly: !o.verify, brokerEvents: false };
    const windows = await Promise.all(Array.from({ length: o.windows }, (_, i) => world.spawn(`window-${i + 1}`, mode)));
    // Everyone holds the first generation before the storms start.
    await Promise.all(windows.map((w) => w.getTokens(1)));
    world.idp.resetCounters();
    const results: TokenResult[] = [];
    const latencies: number[] = [];
    const stormDurations: number[] = [];
    const failures: string[] = [];
    const refreshesPerExpiry: number[] = [];
    const cpuPerExpiry: number[] = [];
    let inactiveTokens = 0;
    for (let e = 0; e < o.expiries; e++) {
      const grantsBefore = world.idp.counters().refreshGrants;
      const status = await windows[0].request<{ expiresAt?: number }>({ cmd: 'status' });
      const expiresAt = o.naive ? Date.now() + o.ttl * 1000 + 50 : (status?.expiresAt ?? Date.now());
      // Extra short-lived processes start before the expiry and fire at staggered moments inside
      // the storm, so they join while the refresh is in flight (not after paying Node's startup).
      const fireAt = expiresAt + 20;
      const extras = await Promise.all(Array.from({ length: o.extraProcesses }, (_, i) => world.spawn(`extra-${e + 1}-${i + 1}`,
        { ...mode, oneShot: o.requestsPerWindow, oneShotAt: fireAt + (i * EXTRA_SPREAD_MS) / Math.max(1, o.extraProcesses) })));
      await until(fireAt);
      const cpuBefore = busyMs();
      const started = Date.now();
      const marks = windows.map((w) => w.events.length);
      const bursts = windows.map((w) => w.getTokens(o.requestsPerWindow));
      const round = [...(await Promise.all(bursts)).flat(), ...(await Promise.all(extras.map((p) => p.oneShotResults()))).flat()];
      const ended = Math.max(...round.map((r) => r.at));
      stormDurations.push(ended - started);
      await Promise.all(extras.map((p) => p.exited)); // a process leaving is part of what the storm costs
      cpuPerExpiry.push(busyMs() - cpuBefore);
      const events = [...windows.flatMap((w, i) => w.events.slice(marks[i])), ...extras.flatMap((p) => p.events)];
      const refreshedAt = events.find((ev) => ev.event === 'refreshed-at') as { at: number } | undefined;
      for (const r of round) {
        results.push(r);
        if (!r.ok) failures.push(`${r.code}: ${r.message}`);
        else if (refreshedAt && r.started <= refreshedAt.at) latencies.push(r.at - refreshedAt.at); // only callers already waiting
      }
      refreshesPerExpiry.push(world.idp.counters().refreshGrants - grantsBefore);
      if (o.verify) {
        const distinct = [...new Set(round.filter((r) => r.ok).map((r) => r.token!))];
        const states = await Promise.all(distinct.map((t) => world.idp.introspect(t)));
        inactiveTokens += states.filter((s) => !s.active).length;
      }
      // After a naive storm the survivors may hold different generations; make the next expiry comparable.
      if (o.naive) break;
    }
    const counters = world.idp.counters();
    const tokensHandedOut = [...new Set(results.filter((r) => r.ok).map((r) => r.token!))];
    return {
      storeModel: o.storeModel,
      windows: o.windows,
      requestsPerWindow: o.requestsPerWindow,
      extraProcesses: o.extraProcesses,
      expiries: o.naive ? 1 : o.expiries,
      refreshGrants: counters.refreshGrants,
      failedRequests: results.filter((r) => !r.ok).length,
      grantRevocations: counters.grantRevocations,
      waiterLatencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
      stormMs: median(stormDurations),
      cpuMs: median(cpuPerExpiry),
      tokensHandedOut,
      inactiveTokens,
      refreshesPerExpiry,
      failures,
      logs: world.logs(),
      issuedTokens: world.idp.issuedTokens(),
    };
  } finally {
    await world.close();
  }
}

/** The baselines read one plain-JSON credential file: seed it with the sign-in the broker stored. */
async function copySignIn(world: World, storeModel: StoreModel, file: string): Promise<void> {
  const store = openStore(storeModel, world.storePath, 0);
  writeFileSync(file, (await store.get(PLAIN_COPY_KEY))!, { mode: 0o600 });
  store.close();
}

/**
 * CPU time the whole machine spent busy (user, nice, system, irq, softirq in /proc/stat; not steal,
 * which a VM's host ran instead), in ms at 10 ms resolution. Machine-wide, so it also counts the
 * processes that exit inside the window, the IdP and harness, and anything else the host runs.
 * NaN where there is no /proc: the figure is Linux-only.
 */
export function busyMs(): number {
  try {
    const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq) * 10; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Percentiles of the storm's figures, to 0.01 ms. */
export function percentile(values: number[], p: number): number {
  return round2(nearestRank(values, p));
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

const round2 = (n: number) => Math.round(n * 100) / 100;
