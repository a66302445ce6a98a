// `npm run soak -- --seed N --faults 100`: a seeded chaos soak. Each episode injects one fault
// (SIGKILL, SIGSTOP for a short or a past-the-bound freeze, SIGINT, or a full disk) into a window
// process at a random protocol step while it refreshes, under the strict or the reuse-grace IdP and
// either store model, then asks every live window for a token. Reported, per IdP mode and store
// model: needs-sign-in per 100 injected faults, refresh grants, grant revocations (must be 0) and
// spent tokens presented again (must be 0). The same seed gives the same fault schedule; the
// outcome of an episode can still depend on timing (e.g. whether a kill at "sent" beat the request).
//
// SIGINT here is a window process's default action (no handler: it dies at once, like a kill); the
// full disk needs root (a tmpfs mount), so without root the schedule draws no ENOSPC faults.
import { parseArgs } from 'node:util';
import { startIdp, type Idp } from '../test/idp/server.ts';
import { World } from '../test/harness/fixture.ts';
import type { WindowProcess } from '../test/harness/windowProcess.ts';
import type { TokenResult } from '../test/harness/protocol.ts';
import type { StoreModel } from '../test/harness/stores.ts';
import type { ProtocolStep } from '../src/core/broker.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    faults: { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
    /** Run only these episodes of the schedule (comma-separated indexes), printing the windows' log. */
    only: { type: 'string' },
  },
});

type Action = 'kill' | 'stop-short' | 'stop-past-bound' | 'int' | 'enospc';
type Mode = 'strict' | 'grace';
interface Episode { i: number; mode: Mode; storeModel: StoreModel; step: ProtocolStep; action: Action }
type Ending = 'signed-in' | 'needs-sign-in' | 'other-error' | 'harness-error';

const STEPS: ProtocolStep[] = ['locked', 'claimed', 'sent', 'answered', 'durable', 'released'];
const ACTIONS: Action[] = process.getuid?.() === 0 ? ['kill', 'stop-short', 'stop-past-bound', 'int', 'enospc'] : ['kill', 'stop-short', 'stop-past-bound', 'int'];
const BOUND_MS = 5000;
const EPISODE_LIMIT_MS = 90_000;

/** mulberry32: small, seedable, good enough to pick faults. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function schedule(seed: number, faults: number): Episode[] {
  const next = rng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)];
  return Array.from({ length: faults }, (_, i) => ({
    i, mode: pick(['strict', 'grace'] as const), storeModel: pick(['shared-lag', 'snapshot'] as const), step: pick(STEPS), action: pick(ACTIONS),
  }));
}

const say = (line: string) => { if (!values.json) console.log(line); };

async function episode(idp: Idp, e: Episode): Promise<{ ending: Ending; grants: number; revocations: number; spentAgain: number; detail: string }> {
  const world = await World.create({ idp, storeModel: e.storeModel, lagMs: 100, ttl: 60, reuseGraceSeconds: e.mode === 'grace' ? 30 : 0, smallDisk: e.action === 'enospc' });
  try {
    await world.signIn();
    const opts = { lockWaitMs: BOUND_MS, reuseGraceMs: e.mode === 'grace' ? 30_000 : 0, refreshTimeoutMs: 3000 };
    const actor = await world.spawn('actor', { ...opts, pauseAt: e.step, faultAction: e.action === 'kill' ? 'kill' : 'stop' });
    const siblings = [await world.spawn('sibling-1', opts), await world.spawn('sibling-2', opts)];
    const [first] = await actor.getTokens(1);
    for (const w of siblings) await w.getTokens(1);
    world.idp.resetCounters();
    const rejected = { rejectedAccessToken: first.token };
    const acting = actor.getTokens(1, rejected).catch(() => []);
    await actor.waitFor((ev) => ev.event === 'hook', 20_000, `the "${e.step}" step`);
    let dead = false;
    if (e.action === 'kill') {
      await actor.exited;
      dead = true;
    } else {
      await actor.stopped();
      if (e.action === 'int') {
        actor.child.kill('SIGINT');
        actor.child.kill('SIGCONT');
        await actor.exited;
        dead = true;
      } else if (e.action === 'enospc') {
        world.disk!.fill();
        actor.child.kill('SIGCONT');
        await acting;
        world.disk!.free();
      } else {
        // A sibling reports the rejected token while the actor is frozen; the freeze then ends.
        const reporting = siblings[0].getTokens(1, rejected);
        await new Promise((r) => setTimeout(r, e.action === 'stop-short' ? 1000 : BOUND_MS + 1000)); // the freeze itself
        actor.child.kill('SIGCONT');
        await reporting;
        await acting;
      }
    }
    const live: WindowProcess[] = dead ? siblings : [actor, ...siblings];
    // Every live window is asked until it has an answer that is not transient (bounded: 5 rounds).
    let results: TokenResult[] = [];
    for (let round = 0; round < 5; round++) {
      results = (await Promise.all(live.map((w) => w.getTokens(1, rejected)))).flat();
      if (results.every((r) => r.ok || r.code === 'needs-sign-in')) break;
      await new Promise((r) => setTimeout(r, 1000)); // a back-off or a degraded write still running out
    }
    const c = world.idp.counters();
    const spentAgain = Object.values(c.errors).reduce((a, b) => a + b, 0);
    const ending: Ending = results.some((r) => r.code === 'needs-sign-in') ? 'needs-sign-in' : results.every((r) => r.ok) ? 'signed-in' : 'other-error';
    const detail = ending === 'signed-in' ? '' : results.filter((r) => !r.ok).map((r) => `${r.code}: ${r.message}`)[0] ?? '';
    if (values.only) say(`--- windows' log (actor pid ${actor.pid}) ---\n${world.logs()}`);
    return { ending, grants: c.refreshGrants, revocations: c.grantRevocations, spentAgain, detail };
  } finally {
    await world.close();
  }
}

function withLimit<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`episode took over ${ms} ms`)), ms); })]).finally(() => clearTimeout(timer));
}

interface Tally { faults: number; needsSignIn: number; otherErrors: number; harnessErrors: number; grants: number; revocations: number; spentAgain: number }
const tally = (): Tally => ({ faults: 0, needsSignIn: 0, otherErrors: 0, harnessErrors: 0, grants: 0, revocations: 0, spentAgain: 0 });

async function main(): Promise<void> {
  const seed = Number(values.seed);
  const faults = Number(values.faults);
  const only = values.only?.split(',').map(Number);
  const plan = schedule(seed, faults).filter((e) => !only || only.includes(e.i));
  const idp = await startIdp({ accessTokenTtl: 60 });
  const groups = new Map<string, Tally>();
  const total = tally();
  const endings: Record<string, number> = {};
  try {
    for (const e of plan) {
      const key = `${e.mode} / ${e.storeModel}`;
      const [g, m] = [key, `store ${e.storeModel}`].map((k) => {
        const t = groups.get(k) ?? tally();
        groups.set(k, t);
        return t;
      });
      const label = `#${e.i} ${e.action} at "${e.step}" (${key})`;
      let r: Awaited<ReturnType<typeof episode>>;
      try {
        r = await withLimit(episode(idp, e), EPISODE_LIMIT_MS);
      } catch (err) {
        r = { ending: 'harness-error', grants: 0, revocations: 0, spentAgain: 0, detail: String(err) };
      }
      for (const t of [g, m, total]) {
        t.faults++;
        t.needsSignIn += r.ending === 'needs-sign-in' ? 1 : 0;
        t.otherErrors += r.ending === 'other-error' ? 1 : 0;
        t.harnessErrors += r.ending === 'harness-error' ? 1 : 0;
        t.grants += r.grants;
        t.revocations += r.revocations;
        t.spentAgain += r.spentAgain;
      }
      const row = `${e.action}@${e.step}/${e.mode}`;
      if (r.ending !== 'signed-in') endings[`${row}: ${r.ending}`] = (endings[`${row}: ${r.ending}`] ?? 0) + 1;
      say(`${label}: ${r.ending}; grants ${r.grants}, revocations ${r.revocations}${r.spentAgain ? `, SPENT TOKEN PRESENTED AGAIN ×${r.spentAgain}` : ''}${r.detail ? ` (${r.detail.slice(0, 160)})` : ''}`);
    }
  } finally {
    await idp.close();
  }
  const per100 = (t: Tally) => Math.round((1000 * t.needsSignIn) / Math.max(1, t.faults)) / 10;
  const report = {
    seed, faults,
    total: { ...total, needsSignInPer100: per100(total) },
    groups: Object.fromEntries([...groups].map(([k, t]) => [k, { ...t, needsSignInPer100: per100(t) }])),
    notSignedIn: endings,
  };
  if (values.json) console.log(JSON.stringify(report));
  else {
    say(`\nseed ${seed}, ${faults} faults`);
    for (const [k, t] of [...groups].sort()) say(`  ${k}: ${t.faults} faults, needs-sign-in ${per100(t)} per 100 (${t.needsSignIn}), other errors ${t.otherErrors}, harness errors ${t.harnessErrors}, grants ${t.grants}, revocations ${t.revocations}, spent tokens presented again ${t.spentAgain}`);
    say(`  all: needs-sign-in ${per100(total)} per 100 (${total.needsSignIn}), other errors ${total.otherErrors}, harness errors ${total.harnessErrors}, grants ${total.grants}, revocations ${total.revocations}, spent tokens presented again ${total.spentAgain}`);
  }
  process.exitCode = total.revocations || total.spentAgain ? 1 : 0;
}

void main().catch((err) => { console.error(err); process.exit(1); });
