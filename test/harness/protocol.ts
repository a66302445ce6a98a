// Messages between a test and its window processes (node IPC channel). Tokens cross only here.
import type { GetTokenOptions, ProtocolStep } from '../../src/core/broker.ts';
import type { StoreModel } from './stores.ts';
import type { Endpoints } from '../../src/oauth/serverConfig.ts';

export interface WindowConfig {
  label: string;
  issuer: string;
  /** Set for a server without discovery (test/oauth2server). */
  endpoints?: Endpoints;
  clientId: string;
  scopes: string[];
  slotDir: string;
  socketDir: string;
  secretKey: string;
  storeModel: StoreModel;
  storePath: string;
  lagMs: number;
  skewMs: number;
  proactive: boolean;
  clockOffsetMs: number;
  logFile: string;
  lockStaleMs?: number;
  backoff?: { baseMs: number; capMs: number };
  refreshTimeoutMs?: number;
  /** Freeze (SIGSTOP, the default) or kill (SIGKILL) this process at a protocol step the first time it is reached. */
  pauseAt?: ProtocolStep;
  faultAction?: 'stop' | 'kill';
  reuseGraceMs?: number;
  lockWaitMs?: number;
  /** Coordination off: every process refreshes on its own (what naive tools do). */
  naive?: boolean;
  /** Benchmark baselines instead of the broker: see inProcessClient.ts and lockAndRereadClient.ts. */
  baseline?: 'inProcess' | 'lockAndReread';
  /** The one plain-JSON credential file the baselines read (and lockAndReread writes). */
  credentialFile?: string;
  /** Forward broker state events to the test (off in storms: nobody reads them there, and they cost CPU). */
  brokerEvents?: boolean;
  /** Report fingerprints instead of tokens (benchmarks: keeps the harness's own IPC small). */
  fingerprintsOnly?: boolean;
  /** Run this many concurrent getToken calls, report, and exit. */
  oneShot?: number;
  /** Wall-clock ms at which the one-shot calls fire (default: as soon as started). */
  oneShotAt?: number;
  /** Serve the `tokenrelay` CLI on a terminal socket in socketDir, as a window does. */
  terminal?: boolean;
  /** Run without CAP_DAC_OVERRIDE, so file modes bind even as root (EACCES tests). */
  honourFileModes?: boolean;
  /** Run as this user (setpriv), so its sockets are not among root's: the paths it uses must be that user's. */
  runAs?: { uid: number; gid: number };
  /** K in the opt-in key file of this directory (a host outside VS Code's store), under `keySecret`. */
  keysDir?: string;
  keySecret?: string;
  /**
   * Opt-in: be a window serving the real AccountService over an AccountRegistry in this directory
   * (World.slotsRoot) instead of a bare Broker on slotDir; getToken, status, signOut and the terminal
   * all go through the service. No fault hooks (pauseAt), naive or baseline mode, or broker events.
   */
  slotsRoot?: string;
  /**
   * With slotsRoot: named profiles beside the default one (the fields above), as tokenrelay.profiles
   * holds them: each profile's settings values (issuer, endpoints, clientId, scopes, refreshSkewSeconds, …).
   * The window reads them with the real readProfiles and serves them with AccountService.configureProfiles.
   */
  profiles?: Record<string, Record<string, unknown>>;
  /** The terminal socket's directory (default socketDir, where the sibling sockets are). */
  terminalSocketDir?: string;
}

export type Command =
  | ({ cmd: 'getToken'; count: number; profile?: string } & GetTokenOptions)
  | { cmd: 'status'; profile?: string }
  | { cmd: 'clock'; offsetMs: number }
  | { cmd: 'signOut'; profile?: string }
  /** With slotsRoot: merges `settings` into one profile's values (default: the top-level ones) and applies every profile, as a settings edit does. */
  | { cmd: 'configure'; profile: string; settings: Record<string, unknown> }
  | { cmd: 'exit' };

export interface TokenResult {
  ok: boolean;
  token?: string;
  gen?: number;
  code?: string;
  message?: string;
  /** When the caller asked, high-resolution wall-clock ms. */
  started: number;
  /** High-resolution wall-clock ms when the caller had its answer. */
  at: number;
}

export type WindowEvent =
  | { event: 'ready'; pid: number; socket?: string }
  | { event: 'hook'; name: string }
  | { event: 'refreshed-at'; gen: number; at: number }
  | { event: 'broker'; type: string; byThisProcess: boolean; at: number }
  | { event: 'oneShot'; results: TokenResult[] }
  | { event: 'reply'; id: number; value?: unknown; error?: string };

/** A plain copy of the sign-in, for the uncoordinated tools the benchmarks compare against (never read by the broker). */
export const PLAIN_COPY_KEY = 'naive-tool/credentials';

// Date.now(): one system clock for every process (performance.timeOrigin differs by a few ms per process).
export const now = () => Date.now();
