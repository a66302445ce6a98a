// One test world: a real IdP, a shared lock directory, a secret-store backing, and windows.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIdp, type Idp } from '../idp/server.ts';
import { completeAuthorization } from '../idp/login.ts';
import { startPlainServer, type PlainServer } from '../oauth2server/server.ts';
import { completeAuthorization as completePlainAuthorization } from '../oauth2server/login.ts';
import type { Endpoints } from '../../src/oauth/serverConfig.ts';
import { OAuthClient } from '../../src/oauth/oauthClient.ts';
import { signInWithLoopback } from '../../src/oauth/loopbackFlow.ts';
import { Broker } from '../../src/core/broker.ts';
import { serializeCredentials } from '../../src/core/credentials.ts';
import { openStore, type StoreModel } from './stores.ts';
import { WindowProcess } from './windowProcess.ts';
import { SmallDisk } from './smallDisk.ts';
import { until, waitFor } from '../support/wait.ts';
import type { WindowConfig } from './protocol.ts';
import type { Logger } from '../../src/core/types.ts';
import { AccountRegistry, type RegistryOptions } from '../../src/app/accountRegistry.ts';
import { AccountService } from '../../src/app/accountService.ts';
import { parseSettings, type SettingsResult } from '../../src/app/settings.ts';
import { keySecretOf, secretKeyOf, slotDirOf, slotKeyOf } from '../../src/app/slots.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

export const SCOPES = ['openid', 'offline_access', 'profile', 'api:read'];
export const SECRET_KEY = 'tokenrelay/v1/test';
import { PLAIN_COPY_KEY } from './protocol.ts';
export { PLAIN_COPY_KEY };

export interface WorldOptions {
  storeModel: StoreModel;
  lagMs?: number;
  ttl?: number;
  /** IdP reuse-grace seconds (test/idp/grace.ts); unset keeps the strict default. */
  reuseGraceSeconds?: number;
  idp?: Idp;
  /** Put the slot directory on a small tmpfs that tests can fill or make read-only. */
  smallDisk?: boolean;
  /** Which test server: the strict oidc-provider (default) or the plain OAuth 2.0 one (test/oauth2server). */
  server?: TestServerKind;
}

export type TestServerKind = 'oidc-provider' | 'oauth2-server';

/** How a client is configured for each test server: discovery for oidc-provider, endpoints for the plain one. */
export interface ServerSetup {
  issuer: string;
  endpoints?: Endpoints;
  scopes: string[];
}

export class World {
  readonly dir = mkdtempSync(join(tmpdir(), 'tokenrelay-world-'));
  readonly slotDir = join(this.dir, 'locks', 'slot');
  readonly socketDir = join(this.dir, 'sockets');
  readonly storePath = join(this.dir, 'secrets');
  readonly logFile = join(this.dir, 'windows.log');
  readonly windows: WindowProcess[] = [];
  private ownsIdp = false;
  idp!: Idp;
  disk: SmallDisk | undefined;

  constructor(readonly options: WorldOptions) {}

  static async create(options: WorldOptions): Promise<World> {
    const world = new World(options);
    try {
      if (options.smallDisk) world.disk = SmallDisk.mount(join(world.dir, 'locks'));
      world.ownsIdp = !options.idp;
      world.idp = options.idp ?? (options.server === 'oauth2-server'
        ? await startPlainServer({ accessTokenTtl: options.ttl ?? 60 })
        : await startIdp({ accessTokenTtl: options.ttl ?? 60, reuseGraceSeconds: options.reuseGraceSeconds }));
      if (options.ttl && options.idp) world.idp.setAccessTokenTtl(options.ttl);
      if (options.reuseGraceSeconds !== undefined && options.idp) world.idp.setReuseGraceSeconds(options.reuseGraceSeconds);
    } catch (err) {
      await world.close(); // a half-made world leaves nothing behind either
      throw err;
    }
    return world;
  }

  /** The plain server names its endpoints and scopes; oidc-provider is discovered. */
  get setup(): ServerSetup {
    const plain = this.idp as Partial<Pick<PlainServer, 'endpoints' | 'scopes'>>;
    return { issuer: this.idp.issuer, endpoints: plain.endpoints, scopes: plain.scopes ?? SCOPES };
  }

  oauthClient(): OAuthClient {
    return new OAuthClient({ ...this.setup, clientId: this.idp.clientId });
  }

  /** Signs in through the real authorization-code + PKCE flow and persists it as a window would. */
  async signIn(login = 'alice'): Promise<void> {
    const client = this.oauthClient();
    const result = await signInWithLoopback(client, {
      openBrowser: async (url) => { await fetch(await (this.setup.endpoints ? completePlainAuthorization : completeAuthorization)(url, { login })); },
    });
    const store = openStore(this.options.storeModel, this.storePath, 0);
    const broker = await Broker.create({ slotDir: this.slotDir, secretKey: SECRET_KEY, store, client, proactive: false });
    await broker.signIn(result.tokens, result.account, result.origin);
    await broker.dispose();
    await store.store(PLAIN_COPY_KEY, serializeCredentials({ v: 1, gen: 1, account: result.account, tokens: result.tokens }));
    store.close();
  }

  config(label: string, overrides: Partial<WindowConfig> = {}): WindowConfig {
    return {
      label,
      ...this.setup,
      clientId: this.idp.clientId,
      slotDir: this.slotDir,
      socketDir: this.socketDir,
      secretKey: SECRET_KEY,
      storeModel: this.options.storeModel,
      storePath: this.storePath,
      lagMs: this.options.lagMs ?? 0,
      skewMs: 0,
      proactive: false,
      clockOffsetMs: 0,
      logFile: this.logFile,
      backoff: { baseMs: 100, capMs: 400 },
      refreshTimeoutMs: 3000,
      ...overrides,
    };
  }

  async spawn(label: string, overrides: Partial<WindowConfig> = {}): Promise<WindowProcess> {
    const win = await WindowProcess.spawn(this.config(label, overrides));
    this.windows.push(win);
    return win;
  }

  logs(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Resolves once the windows' log matches `pattern` (a bounded wait on an observable fact). */
  logsMatch(pattern: RegExp, timeoutMs: number): Promise<void> {
    return waitFor(`the windows' log to match ${pattern}`, timeoutMs, () => pattern.test(this.logs()), 50);
  }

  // ---- opt-in: the registry layout a real AccountService keeps (src/app/slots.ts) -------------
  // Nothing above uses it: signIn(), slotDir and spawn() keep the bare broker's slot unless a test
  // passes accountSlot() to spawn.

  /** Where an AccountService of this world keeps its slots and their meta files. */
  get slotsRoot(): string {
    return join(this.dir, 'slots');
  }

  /** The world's IdP as a window's tokenrelay.* settings name it, through the real parseSettings. */
  settings(extra: Record<string, unknown> = {}): SettingsResult {
    const { issuer, endpoints, scopes } = this.setup;
    const values: Record<string, unknown> = { issuer, endpoints, clientId: this.idp.clientId, scopes, ...extra };
    return parseSettings((key) => values[key]);
  }

  /** `accountId`'s slot in the registry layout and the secret names its broker uses: spawn(label, accountSlot()) joins it. */
  accountSlot(accountId = 'alice'): Required<Pick<WindowConfig, 'slotDir' | 'secretKey' | 'keySecret'>> & { slotKey: string } {
    const result = this.settings();
    if (!result.ok) throw result.problem;
    const slotKey = slotKeyOf(result.settings.identity, accountId);
    return { slotKey, slotDir: slotDirOf(this.slotsRoot, slotKey), secretKey: secretKeyOf(slotKey), keySecret: keySecretOf(slotKey) };
  }

  /**
   * A real AccountService over an AccountRegistry in slotsRoot, configured by settings(`settings`),
   * on this world's store (its own view, `lagMs` as configured). The caller closes it.
   */
  async openAccountService(opts: {
    log?: Logger; label?: string; lagMs?: number; settings?: Record<string, unknown>; watchSlots?: boolean;
    brokerOptions?: RegistryOptions['brokerOptions'];
  } = {}): Promise<{ service: AccountService; close(): Promise<void> }> {
    const store = openStore(this.options.storeModel, this.storePath, opts.lagMs ?? this.options.lagMs ?? 0);
    const log = opts.log ?? silentLog;
    const service = new AccountService(new AccountRegistry({
      slotsRoot: this.slotsRoot, store, log, label: opts.label, watchSlots: opts.watchSlots,
      siblings: (l) => new UnixSiblingChannel(this.socketDir, l), brokerOptions: opts.brokerOptions,
    }), log);
    try {
      await service.configure(this.settings(opts.settings));
    } catch (err) {
      await service.dispose();
      store.close();
      throw err;
    }
    return { service, close: async () => { await service.dispose(); store.close(); } };
  }

  /**
   * Signs in through the real authorization-code + PKCE flow and persists it through a real
   * AccountService: the slot and meta file in slotsRoot, as a window's sign-in writes them.
   */
  async signInAccount(login = 'alice'): Promise<void> {
    const { service, close } = await this.openAccountService({ lagMs: 0, watchSlots: false, brokerOptions: { proactive: false } });
    try {
      const result = await signInWithLoopback(service.oauthClient(), {
        openBrowser: async (url) => { await fetch(await (this.setup.endpoints ? completePlainAuthorization : completeAuthorization)(url, { login })); },
      });
      await service.signIn(result.tokens, result.account, undefined, result.origin);
    } finally {
      await close();
    }
  }

  lockHeld(): boolean {
    return readdirSync(join(this.slotDir, 'lock')).includes('refresh.lock');
  }

  /** Stops the windows and the IdP it started; the directory goes whatever fails on the way. */
  async close(): Promise<void> {
    try {
      const closed = await Promise.allSettled(this.windows.map((w) => w.close()));
      if (this.ownsIdp) await this.idp?.close();
      const failed = closed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      this.disk?.unmount();
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

const silentLog: Logger = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export { until };
