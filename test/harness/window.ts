// A "window": a separate OS process running the real core against the real IdP, driven by a test:
// a bare Broker on any slot (the fault-injection actor: hooks at protocol steps), or with
// config.slotsRoot the real AccountService over an AccountRegistry, as a window serves it.
import { openSync, writeSync } from 'node:fs';
import { Broker, type GetTokenOptions, type ProtocolStep } from '../../src/core/broker.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';
import { FileKeyStore } from '../../src/keystore/fileKeyStore.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import type { Logger } from '../../src/core/types.ts';
import { describeError, isTokenRelayError } from '../../src/core/errors.ts';
import { openStore } from './stores.ts';
import { fingerprint } from '../../src/core/fingerprint.ts';
import { NaiveClient } from './naiveClient.ts';
import { InProcessClient } from './inProcessClient.ts';
import { LockAndRereadClient } from './lockAndRereadClient.ts';
import { serveTerminals } from '../../src/ipc/tokenServer.ts';
import { TokenRelayError } from '../../src/core/errors.ts';
import { AccountRegistry } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { DEFAULT_PROFILE, readProfiles, type ProfileConfig } from '../../src/app/profiles.ts';
import { sameIdentity } from '../../src/app/slots.ts';
import type { TokenService } from '../../src/app/tokenService.ts';
import { now, PLAIN_COPY_KEY, type Command, type TokenResult, type WindowConfig, type WindowEvent } from './protocol.ts';

const config: WindowConfig = JSON.parse(process.env.TOKENRELAY_HARNESS ?? '{}');
let clockOffset = config.clockOffsetMs;
const clock = { now: () => Date.now() + clockOffset };
const send = (message: WindowEvent) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

// One descriptor opened for appending: a line is one write (atomic with O_APPEND, kept by kill -9),
// not an open/write/close per line in every process of a storm.
const logFd = openSync(config.logFile, 'a');
const log: Logger = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error'].map((level) =>
  [level, (m: string) => writeSync(logFd, `${new Date().toISOString()} [${level}] ${config.label} pid ${process.pid}: ${m}\n`)])) as unknown as Logger;

let paused = false;
/** Fault injection at a protocol step: tell the test, then freeze (SIGSTOP) or die (SIGKILL) right there. */
async function hook(step: ProtocolStep): Promise<void> {
  if (step === 'answered') void send({ event: 'refreshed-at', gen: -1, at: now() });
  if (config.pauseAt !== step || paused) return;
  paused = true;
  await send({ event: 'hook', name: step });
  process.kill(process.pid, config.faultAction === 'kill' ? 'SIGKILL' : 'SIGSTOP');
}

const store = openStore(config.storeModel, config.storePath, config.lagMs);
const client = new OAuthClient({ issuer: config.issuer, endpoints: config.endpoints, clientId: config.clientId, scopes: config.scopes }, clock);

interface TokenSource {
  /** `profile`: only the AccountService (config.slotsRoot) serves more than one. */
  getToken(options: GetTokenOptions & { profile?: string }): Promise<{ accessToken: string; generation: number }>;
}

// The benchmark's baselines stand in for the broker; they report the IdP's answer as it does.
function baselineSource(): TokenSource & { status(): unknown } | undefined {
  if (!config.baseline) return undefined;
  void client.prepare().catch(() => {}); // discovery ahead of the storm, as Broker.create does
  const onResponse = () => void hook('answered');
  if (config.baseline === 'inProcess') return new InProcessClient(config.credentialFile!, client, clock, onResponse);
  return new LockAndRereadClient(config.credentialFile!, client, clock, onResponse);
}

/**
 * config.slotsRoot: the real AccountService, as a window's terminal and API get it (no fault hooks).
 * config.profiles: more profiles beside the default one, read by the real readProfiles and applied
 * with configureProfiles (one registry per profile), as the extension does with tokenrelay.profiles.
 */
async function serviceSource(): Promise<ServiceSource | undefined> {
  if (!config.slotsRoot) return undefined;
  if (config.pauseAt || config.naive || config.baseline) throw new Error('a window serving the AccountService has no fault hooks, naive or baseline mode');
  // What the settings hold now: the top-level values (the profile "default") and tokenrelay.profiles.
  const values: Record<string, unknown> = {
    issuer: config.issuer, endpoints: config.endpoints, clientId: config.clientId, scopes: config.scopes,
    refreshSkewSeconds: config.skewMs / 1000, refreshTokenReuseGraceSeconds: (config.reuseGraceMs ?? 0) / 1000,
  };
  const named: Record<string, Record<string, unknown>> = structuredClone(config.profiles ?? {});
  let profiles: ProfileConfig[] = [];
  const registryFor = (profile: string) => new AccountRegistry({
    slotsRoot: config.slotsRoot!, store, log, label: config.label, profile,
    identityInUse: (identity) => profiles.some((p) => p.name !== profile && p.result.ok && sameIdentity(p.result.settings.identity, identity)),
    keyStores: config.keysDir ? [new FileKeyStore(config.keysDir)] : undefined,
    siblings: (l) => new UnixSiblingChannel(config.socketDir, l),
    brokerOptions: {
      clock, proactive: config.proactive, lockStaleMs: config.lockStaleMs, backoff: config.backoff,
      refreshTimeoutMs: config.refreshTimeoutMs, lockWaitMs: config.lockWaitMs,
    },
  });
  const service = new AccountService(registryFor(DEFAULT_PROFILE), log, { registryFor });
  const apply = async () => {
    profiles = readProfiles((key) => (key === 'profiles' ? (Object.keys(named).length ? named : undefined) : values[key]));
    await service.configureProfiles(new Map(profiles.map((p) => [p.name, p.result])));
  };
  await apply();
  return {
    service,
    getToken: (options) => service.getToken({ rejectedAccessToken: options.rejectedAccessToken, minValidityMs: options.minValidityMs, profile: options.profile, resource: options.resource }),
    status: (profile) => service.status(profile),
    signOut: async (profile) => { await service.signOutAccount(undefined, profile); },
    configure: async (profile, settings) => {
      if (profile === DEFAULT_PROFILE) Object.assign(values, settings);
      else named[profile] = { ...named[profile], ...settings };
      await apply();
    },
  };
}

interface ServiceSource extends TokenSource {
  service: AccountService;
  status(profile?: string): unknown;
  signOut(profile?: string): Promise<void>;
  configure(profile: string, settings: Record<string, unknown>): Promise<void>;
}

async function main(): Promise<void> {
  const viaService = await serviceSource();
  const source: TokenSource & { status?(): unknown; signOut?(): Promise<void> } = viaService ?? baselineSource() ?? (config.naive
    ? new NaiveClient(store, client, PLAIN_COPY_KEY, clock)
    : await Broker.create({
      slotDir: config.slotDir,
      secretKey: config.secretKey,
      store, client, clock, log,
      label: config.label,
      refreshSkewMs: config.skewMs,
      proactive: config.proactive,
      lockStaleMs: config.lockStaleMs,
      backoff: config.backoff,
      refreshTimeoutMs: config.refreshTimeoutMs,
      reuseGraceMs: config.reuseGraceMs,
      lockWaitMs: config.lockWaitMs,
      siblings: new UnixSiblingChannel(config.socketDir, log),
      hooks: { at: (step) => hook(step) },
      keySecret: config.keySecret,
      keyStores: config.keysDir ? [new FileKeyStore(config.keysDir)] : undefined,
    }));
  if (source instanceof Broker && config.brokerEvents !== false) {
    source.onEvent((e) => void send({ event: 'broker', type: e.type, byThisProcess: e.byThisProcess, at: now() }));
  }

  // One hash per distinct token rather than per caller: the harness must not slow down the callers it times.
  let lastToken = '';
  let lastPrint = '';
  const printOf = (token: string) => (token === lastToken ? lastPrint : (lastPrint = fingerprint(lastToken = token)));
  const burst = (count: number, options: GetTokenOptions & { profile?: string }) => Promise.all(Array.from({ length: count }, async (): Promise<TokenResult> => {
    const started = now();
    try {
      const grant = await source.getToken(options);
      const at = now();
      return { ok: true, token: config.fingerprintsOnly ? printOf(grant.accessToken) : grant.accessToken, gen: grant.generation, started, at };
    } catch (err) {
      return { ok: false, code: isTokenRelayError(err) ? err.code : 'internal', message: describeError(err), started, at: now() };
    }
  }));

  if (config.oneShot) {
    await send({ event: 'ready', pid: process.pid });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (config.oneShotAt ?? 0) - Date.now())));
    await send({ event: 'oneShot', results: await burst(config.oneShot, {}) });
    if (source instanceof Broker) await source.dispose(); // as an extension host's deactivate does
    await viaService?.service.dispose();
    process.exit(0);
  }

  const terminalService = viaService?.service ?? (source instanceof Broker ? brokerService(source) : undefined);
  const socket = config.terminal && terminalService ? await serveTerminal(terminalService) : undefined;
  process.on('message', async (raw: Command & { id: number }) => {
    try {
      let value: unknown;
      // A bare broker or a baseline has one session: a profile named to it would be silently ignored.
      if ('profile' in raw && raw.profile !== undefined && !viaService) throw new Error('only a window serving the AccountService (slotsRoot) has profiles');
      switch (raw.cmd) {
        case 'getToken': value = await burst(raw.count, { rejectedAccessToken: raw.rejectedAccessToken, minValidityMs: raw.minValidityMs, profile: raw.profile, resource: raw.resource }); break;
        case 'status': value = viaService ? viaService.status(raw.profile) : source.status?.(); break;
        case 'clock': clockOffset = raw.offsetMs; break;
        case 'signOut': await (viaService ? viaService.signOut(raw.profile) : source.signOut?.()); break;
        case 'configure':
          if (!viaService) throw new Error('only a window serving the AccountService (slotsRoot) can be reconfigured');
          await viaService.configure(raw.profile, raw.settings);
          break;
        case 'exit': process.exit(0);
      }
      await send({ event: 'reply', id: raw.id, value });
    } catch (err) {
      await send({ event: 'reply', id: raw.id, error: describeError(err) });
    }
  });
  await send({ event: 'ready', pid: process.pid, socket });
}

/**
 * A bare broker (the fault-injection actor, on any slot) as the terminal's TokenService. It has none
 * of AccountService's checks (configuration, scopes, account): a test of those gives the window
 * config.slotsRoot, which serves the real service.
 */
function brokerService(broker: Broker): TokenService {
  return {
    getToken: (r) => broker.getToken({ rejectedAccessToken: r.rejectedAccessToken, minValidityMs: r.minValidityMs, resource: r.resource }),
    status: () => ({ ...broker.status(), issuer: config.issuer, clientId: config.clientId }),
    requestSignIn: async () => { throw new TokenRelayError('cancelled', 'A test window cannot sign in.', 'Sign in from the test.'); },
    signOutAccount: async () => {
      const held = broker.peek();
      await broker.signOut();
      return held && { id: held.account.id, label: held.account.label };
    },
    profiles: () => ['default'],
  };
}

/** The window's terminal socket for the real CLI; sign-in happens in the test, not here. */
async function serveTerminal(service: TokenService): Promise<string> {
  const server = await serveTerminals({ socketDir: config.terminalSocketDir ?? config.socketDir, log, service, host: 'window' });
  return server.socketPath;
}

process.on('disconnect', () => process.exit(0));
main().catch((err) => {
  log.error(`window failed to start: ${describeError(err)}`);
  process.exit(70);
});
