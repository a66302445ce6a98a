// Test worlds for the VS Code surface: fake SecretStorage with desktop-like (shared) or
// code-server-like (isolated per window) behaviour, a fake ExtensionContext per "window", and
// headless browser behaviour for the loopback flow against the real test IdP.
import './setup.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { EventEmitter, Uri, fake, type FakeLogChannel, type FakeStatusBarItem } from './fake/vscode.ts';
import { startExtension, type ExtensionHandle } from '../../src/vscode/extension.ts';
import { completeAuthorization } from '../idp/login.ts';
import type { Idp } from '../idp/server.ts';
import { UnixSiblingChannel } from '../../src/ipc/siblingChannel.ts';

/** One backing for all windows. `shared`: every window reads it (desktop). `isolated`: each window keeps its own copy (code-server tabs). */
export class SecretHub {
  readonly data = new Map<string, string>();
  readonly views: FakeSecretStorage[] = [];
  constructor(readonly mode: 'shared' | 'isolated') {}
  view(): FakeSecretStorage {
    const view = new FakeSecretStorage(this, this.mode === 'isolated' ? new Map(this.data) : this.data);
    this.views.push(view);
    return view;
  }
}

export class FakeSecretStorage {
  private readonly emitter = new EventEmitter<{ key: string }>();
  readonly onDidChange = this.emitter.event;
  constructor(private readonly hub: SecretHub, readonly data: Map<string, string>) {}
  async get(key: string): Promise<string | undefined> { return this.data.get(key); }
  async store(key: string, value: string): Promise<void> { this.data.set(key, value); this.changed(key); }
  async delete(key: string): Promise<void> { this.data.delete(key); this.changed(key); }
  async keys(): Promise<string[]> { return [...this.data.keys()]; }
  private changed(key: string): void {
    if (this.hub.mode === 'isolated') {
      this.hub.data.set(key, this.data.get(key)!); // what a newly opened tab would load
      if (!this.data.has(key)) this.hub.data.delete(key);
      this.emitter.fire({ key });
      return;
    }
    for (const v of this.hub.views) setImmediate(() => v.emitter.fire({ key })); // async, in every window
  }
}

class Memento {
  private readonly values = new Map<string, unknown>();
  constructor(private readonly shared?: Map<string, unknown>) {}
  get<T>(key: string, defaultValue?: T): T | undefined {
    const map = this.shared ?? this.values;
    return map.has(key) ? map.get(key) as T : defaultValue;
  }
  async update(key: string, value: unknown): Promise<void> {
    const map = this.shared ?? this.values;
    if (value === undefined) map.delete(key);
    else map.set(key, value);
  }
  keys(): readonly string[] { return [...(this.shared ?? this.values).keys()]; }
  setKeysForSync(): void {}
}

export interface WindowOptions {
  secrets?: FakeSecretStorage;
  viewCatchUpMs?: number;
  /** How long the browser sign-in waits before offering to check the settings. */
  signInStillWaitingMs?: number;
}

export interface TestWindow extends ExtensionHandle {
  context: vscode.ExtensionContext;
  secrets: FakeSecretStorage;
  item: FakeStatusBarItem;
  channel: FakeLogChannel;
  provider: vscode.AuthenticationProvider;
  sessionEvents: vscode.AuthenticationProviderAuthenticationSessionsChangeEvent[];
}

/** The shared machine: the store, globalStorage, sockets, secrets backing, globalState. */
export class World {
  readonly dir = mkdtempSync(join(tmpdir(), 'tokenrelay-vscode-'));
  readonly globalStorage = join(this.dir, 'globalStorage', 'tokenrelay.tokenrelay');
  /** The per-user store of record (TOKENRELAY_HOME), shared by every window of this world. */
  readonly store = join(this.dir, 'store');
  readonly socketDir = join(this.dir, 'sockets');
  /** The CLI's configuration file, where a window copies its profiles. */
  readonly configFile = join(this.dir, 'config', 'config.json');
  readonly globalState = new Map<string, unknown>();
  readonly windows: TestWindow[] = [];
  readonly hub: SecretHub;

  constructor(mode: 'shared' | 'isolated' = 'isolated') {
    this.hub = new SecretHub(mode);
  }

  async openWindow(options: WindowOptions = {}): Promise<TestWindow> {
    const secrets = options.secrets ?? this.hub.view();
    const context = {
      subscriptions: [] as { dispose(): unknown }[],
      secrets,
      globalStorageUri: Uri.file(this.globalStorage),
      globalState: new Memento(this.globalState),
      workspaceState: new Memento(),
      extensionPath: this.dir,
      extensionUri: Uri.file(this.dir),
      environmentVariableCollection: {},
    } as unknown as vscode.ExtensionContext;
    const items = fake.statusBarItems.length;
    const channels = fake.channels.length;
    const providers = fake.authProviders.length;
    const handle = await startExtension(context, {
      storeEnv: { TOKENRELAY_HOME: this.store, TOKENRELAY_CONFIG: this.configFile },
      osKeyStores: [],
      startTerminalBridge: async () => ({ dispose() {} }),
      signInStillWaitingMs: options.signInStillWaitingMs,
      registry: {
        siblings: (log) => new UnixSiblingChannel(this.socketDir, log),
        rescanIntervalMs: 60_000,
        brokerOptions: { proactive: false, viewCatchUpMs: options.viewCatchUpMs ?? 300 },
      },
    });
    const provider = fake.authProviders[providers]!.provider as vscode.AuthenticationProvider;
    const sessionEvents: vscode.AuthenticationProviderAuthenticationSessionsChangeEvent[] = [];
    provider.onDidChangeSessions((e) => sessionEvents.push(e));
    const win: TestWindow = Object.assign(handle, {
      context, secrets, provider, sessionEvents,
      item: fake.statusBarItems[items]!,
      channel: fake.channels[channels]!,
    });
    this.windows.push(win);
    await handle.service.ready;
    return win;
  }

  async closeWindow(win: TestWindow): Promise<void> {
    await win.dispose();
    this.windows.splice(this.windows.indexOf(win), 1);
  }

  /** Closes every window; the directory goes whatever fails on the way. */
  async close(): Promise<void> {
    try {
      for (const w of [...this.windows]) await this.closeWindow(w);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

export function idpSettings(idp: Idp, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'tokenrelay.issuer': idp.issuer,
    'tokenrelay.clientId': idp.clientId,
    'tokenrelay.scopes': ['openid', 'profile', 'offline_access', 'api:read'],
    'tokenrelay.signInFlow': 'loopback',
    ...extra,
  };
}

export const browserErrors: string[] = [];

/** The "browser": logs in at the IdP and follows the redirect back to the extension's loopback. */
export function browserLogin(login = 'test-user', opts: { abort?: boolean } = {}): (url: string) => boolean {
  return (url: string) => {
    void (async () => {
      const callback = await completeAuthorization(url, { login, abort: opts.abort });
      await fetch(callback).then((r) => r.text());
    })().catch((err) => { browserErrors.push(String(err)); });
    return true;
  };
}

export function allLogText(): string {
  return fake.channels.map((c) => c.text).join('\n');
}

export { sleep } from '../support/wait.ts';
