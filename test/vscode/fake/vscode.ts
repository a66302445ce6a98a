// A small fake of the `vscode` API: enough surface for the extension's adapters, with every UI
// interaction recorded and scriptable through `fake`. Installed for `require('vscode')` by ../setup.ts.
import { EventEmitter as NodeEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// ---- basic types -------------------------------------------------------------------------------

export class Disposable {
  constructor(private readonly fn: () => void) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => { for (const i of items) i.dispose(); });
  }
  dispose(): void { this.fn(); }
}

export type Event<T> = (listener: (e: T) => unknown, thisArgs?: unknown, disposables?: Disposable[]) => Disposable;

export class EventEmitter<T> {
  private listeners = new Set<(e: T) => unknown>();
  readonly event: Event<T> = (listener, thisArgs, disposables) => {
    const bound = (e: T) => listener.call(thisArgs, e);
    this.listeners.add(bound);
    const d = new Disposable(() => this.listeners.delete(bound));
    disposables?.push(d);
    return d;
  };
  fire(e: T): void { for (const l of [...this.listeners]) l(e); }
  dispose(): void { this.listeners.clear(); }
}

export enum StatusBarAlignment { Left = 1, Right = 2 }
export enum ProgressLocation { SourceControl = 1, Window = 10, Notification = 15 }
export enum UIKind { Desktop = 1, Web = 2 }
export enum ConfigurationTarget { Global = 1, Workspace = 2, WorkspaceFolder = 3 }

export class ThemeColor { constructor(readonly id: string) {} }

export class MarkdownString {
  isTrusted?: boolean | { enabledCommands: string[] };
  constructor(public value = '', public supportThemeIcons = false) {}
  appendMarkdown(text: string): this { this.value += text; return this; }
  appendText(text: string): this { this.value += text.replace(/[\\`*_{}[\]()#+\-.!]/g, '\\$&'); return this; }
}

export class CancellationError extends Error {
  constructor() { super('Canceled'); this.name = 'Canceled'; }
}

export class Uri {
  private constructor(private readonly text: string, readonly scheme: string, readonly fsPath: string) {}
  static parse(value: string): Uri {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1] ?? '';
    return new Uri(value, scheme, scheme === 'file' ? decodeURIComponent(value.replace(/^file:\/\//, '')) : '');
  }
  static file(path: string): Uri { return new Uri(`file://${path}`, 'file', path); }
  toString(): string { return this.text; }
}

// ---- recorded UI ---------------------------------------------------------------------------------

export class FakeStatusBarItem {
  text = '';
  tooltip: string | MarkdownString | undefined;
  command: string | undefined;
  name: string | undefined;
  backgroundColor: ThemeColor | undefined;
  accessibilityInformation: unknown;
  visible = false;
  disposed = false;
  constructor(readonly id: string, readonly alignment: StatusBarAlignment, readonly priority: number) {}
  show(): void { this.visible = true; }
  hide(): void { this.visible = false; }
  dispose(): void { this.disposed = true; this.visible = false; }
  get tooltipText(): string { return typeof this.tooltip === 'string' ? this.tooltip : this.tooltip?.value ?? ''; }
}

export interface LogLine { level: string; message: string }

export class FakeLogChannel {
  readonly lines: LogLine[] = [];
  shown = 0;
  disposed = false;
  constructor(readonly name: string, readonly options: unknown) {}
  private add(level: string, message: string): void {
    if (this.disposed) throw new Error(`log channel "${this.name}" used after dispose: ${message}`);
    this.lines.push({ level, message });
  }
  trace(m: string): void { this.add('trace', m); }
  debug(m: string): void { this.add('debug', m); }
  info(m: string): void { this.add('info', m); }
  warn(m: string): void { this.add('warn', m); }
  error(m: string | Error): void { this.add('error', String(m)); }
  append(m: string): void { this.add('append', m); }
  appendLine(m: string): void { this.add('append', m); }
  show(): void { this.shown++; }
  hide(): void {}
  clear(): void {}
  dispose(): void { this.disposed = true; }
  get text(): string { return this.lines.map((l) => `[${l.level}] ${l.message}`).join('\n'); }
}

export interface Message {
  severity: 'info' | 'warning' | 'error';
  message: string;
  options?: { modal?: boolean; detail?: string };
  items: string[];
  /** Resolves with the button the responder picked. */
  answered: Promise<string | undefined>;
}

export interface Progress {
  options: { location: ProgressLocation; title?: string; cancellable?: boolean };
  reports: { message?: string; increment?: number }[];
  cancel(): void;
  done: boolean;
}

type Responder = (m: Message) => string | undefined | Promise<string | undefined>;

const settingsChanged = new EventEmitter<{ affectsConfiguration(section: string): boolean }>();

function freshState() {
  return {
    statusBarItems: [] as FakeStatusBarItem[],
    channels: [] as FakeLogChannel[],
    messages: [] as Message[],
    progresses: [] as Progress[],
    quickPicks: [] as { items: unknown[]; options: unknown }[],
    inputBoxes: [] as { password?: boolean; prompt?: string; title?: string }[],
    /** Types into an input box; default: dismiss (undefined). */
    type: ((_options: unknown) => undefined) as (options: unknown) => string | undefined,
    /** Picks a button for a message; default: dismiss. */
    respond: (() => undefined) as Responder,
    /** Picks a quick pick item; default: dismiss. */
    pick: ((_items: unknown[]) => undefined) as (items: unknown[]) => unknown,
    /** What the "browser" does with a URL passed to openExternal. */
    openExternal: ((_url: string) => true) as (url: string) => boolean | Promise<boolean>,
    opened: [] as string[],
    /** What asExternalUri makes of a URL (a web workbench: its port proxy); default: unchanged. */
    asExternalUri: ((url: string) => url) as (url: string) => string,
    clipboard: '',
    settings: new Map<string, unknown>(),
    /** A workspace's .vscode/settings.json (full keys): applied by get() only to settings package.json does not scope to application or machine. */
    workspaceSettings: new Map<string, unknown>(),
    authProviders: [] as { id: string; label: string; provider: unknown; options: unknown; disposed: boolean }[],
    commands: new Map<string, ((...args: unknown[]) => unknown)[]>(),
    executed: [] as { id: string; args: unknown[] }[],
    /** getSession calls an extension made (the Accounts menu's pending requests among them). */
    sessionRequests: [] as { id: string; scopes: readonly string[]; options: unknown }[],
    remoteName: undefined as string | undefined,
    uiKind: UIKind.Desktop,
    /** false: no vscode.lm.registerMcpServerDefinitionProvider; 'proposed': VS Code 1.100's, which throws for an extension without the proposal. */
    mcpApi: true as boolean | 'proposed',
    mcpProviders: [] as { id: string; provider: FakeMcpProvider; disposed: boolean }[],
  };
}

type State = ReturnType<typeof freshState>;

/** Test control of the fake. */
export const fake: State & {
  reset(): void;
  setSettings(values: Record<string, unknown>): void;
  messagesMatching(re: RegExp): Message[];
  waitFor<T>(probe: () => T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
} = Object.assign(freshState(), {
  reset(): void {
    Object.assign(fake, freshState());
  },
  /** Replaces the given settings (full keys, e.g. 'tokenrelay.issuer'; undefined removes) and fires the change event. */
  setSettings(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) fake.settings.delete(k);
      else fake.settings.set(k, v);
    }
    const keys = Object.keys(values);
    settingsChanged.fire({ affectsConfiguration: (section) => keys.some((k) => k === section || k.startsWith(`${section}.`)) });
  },
  messagesMatching(re: RegExp): Message[] {
    return fake.messages.filter((m) => re.test(m.message));
  },
  async waitFor<T>(probe: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value as T;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  },
});

function showMessage(severity: Message['severity'], message: string, rest: unknown[]): Promise<string | undefined> {
  let options: Message['options'];
  if (rest.length && typeof rest[0] === 'object' && rest[0] !== null && !('title' in (rest[0] as object))) {
    options = rest.shift() as Message['options'];
  }
  const items = rest.map((i) => (typeof i === 'string' ? i : (i as { title: string }).title));
  const entry = { severity, message, options, items } as Message;
  entry.answered = Promise.resolve().then(() => fake.respond(entry));
  fake.messages.push(entry);
  return entry.answered;
}

// ---- namespaces ------------------------------------------------------------------------------------

export const window = {
  createStatusBarItem(id: string, alignment: StatusBarAlignment, priority: number): FakeStatusBarItem {
    const item = new FakeStatusBarItem(id, alignment, priority);
    fake.statusBarItems.push(item);
    return item;
  },
  createOutputChannel(name: string, options?: unknown): FakeLogChannel {
    const channel = new FakeLogChannel(name, options);
    fake.channels.push(channel);
    return channel;
  },
  showInformationMessage: (message: string, ...rest: unknown[]) => showMessage('info', message, rest),
  showWarningMessage: (message: string, ...rest: unknown[]) => showMessage('warning', message, rest),
  showErrorMessage: (message: string, ...rest: unknown[]) => showMessage('error', message, rest),
  async showInputBox(options: { password?: boolean; prompt?: string; title?: string } = {}): Promise<string | undefined> {
    fake.inputBoxes.push(options);
    return fake.type(options);
  },
  async showQuickPick(items: unknown[] | Promise<unknown[]>, options?: unknown): Promise<unknown> {
    const list = await items;
    fake.quickPicks.push({ items: list, options });
    return fake.pick(list);
  },
  async withProgress<R>(options: Progress['options'], task: (progress: { report(v: { message?: string }): void }, token: unknown) => Promise<R>): Promise<R> {
    const cancelled = new NodeEmitter();
    let isCancellationRequested = false;
    const entry: Progress = {
      options,
      reports: [],
      done: false,
      cancel() {
        if (isCancellationRequested) return;
        isCancellationRequested = true;
        cancelled.emit('cancel');
      },
    };
    fake.progresses.push(entry);
    const token = {
      get isCancellationRequested() { return isCancellationRequested; },
      onCancellationRequested(listener: () => void) {
        cancelled.on('cancel', listener);
        return new Disposable(() => cancelled.off('cancel', listener));
      },
    };
    try {
      return await task({ report: (v) => entry.reports.push(v) }, token);
    } finally {
      entry.done = true;
    }
  },
  state: { focused: true },
  onDidChangeWindowState: new EventEmitter<{ focused: boolean }>().event,
};

export const env = {
  get uiKind() { return fake.uiKind; },
  get remoteName() { return fake.remoteName; },
  appName: 'Fake Code',
  async openExternal(uri: Uri): Promise<boolean> {
    const url = uri.toString();
    fake.opened.push(url);
    return fake.openExternal(url);
  },
  async asExternalUri(uri: Uri): Promise<Uri> { return Uri.parse(fake.asExternalUri(uri.toString())); },
  clipboard: {
    async readText(): Promise<string> { return fake.clipboard; },
    async writeText(text: string): Promise<void> { fake.clipboard = text; },
  },
};

/** package.json's contributed settings: their defaults and scopes, as VS Code applies them. */
const contributions = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')).contributes.configuration.properties as Record<string, { default?: unknown; scope?: string }>;
const contributed = (key: string) => (Object.hasOwn(contributions, key) ? contributions[key] : undefined);
/** VS Code ignores a workspace's value of an application- or machine-scoped setting. */
const userOnly = (key: string) => ['application', 'machine'].includes(contributed(key)?.scope ?? '');

export const workspace = {
  getConfiguration(section?: string) {
    const full = (key: string) => (section ? `${section}.${key}` : key);
    return {
      get<T>(key: string, defaultValue?: T): T | undefined {
        if (fake.workspaceSettings.has(full(key)) && !userOnly(full(key))) return fake.workspaceSettings.get(full(key)) as T;
        return fake.settings.has(full(key)) ? fake.settings.get(full(key)) as T : defaultValue ?? contributed(full(key))?.default as T;
      },
      inspect<T>(key: string): { key: string; defaultValue?: T; globalValue?: T; workspaceValue?: T; workspaceFolderValue?: T } | undefined {
        const setting = contributed(full(key));
        if (!setting && !fake.settings.has(full(key))) return undefined;
        return { key: full(key), defaultValue: setting?.default as T, globalValue: fake.settings.get(full(key)) as T, workspaceValue: fake.workspaceSettings.get(full(key)) as T };
      },
      has: (key: string) => fake.settings.has(full(key)),
      async update(key: string, value: unknown): Promise<void> { fake.setSettings({ [full(key)]: value }); },
    };
  },
  onDidChangeConfiguration: settingsChanged.event,
};

export const commands = {
  registerCommand(id: string, fn: (...args: unknown[]) => unknown): Disposable {
    const list = fake.commands.get(id) ?? [];
    list.push(fn);
    fake.commands.set(id, list);
    return new Disposable(() => {
      const now = fake.commands.get(id) ?? [];
      fake.commands.set(id, now.filter((f) => f !== fn));
    });
  },
  /** Runs the most recently registered handler (the "focused window"); unknown commands are recorded. */
  async executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    const handler = fake.commands.get(id)?.at(-1);
    if (!handler) {
      fake.executed.push({ id, args });
      return undefined;
    }
    return handler(...args);
  },
};

export const authentication = {
  registerAuthenticationProvider(id: string, label: string, provider: unknown, options?: unknown): Disposable {
    const entry = { id, label, provider, options, disposed: false };
    fake.authProviders.push(entry);
    return new Disposable(() => { entry.disposed = true; });
  },
  /** Records the request; no session (VS Code would list a pending request in the Accounts menu). */
  async getSession(id: string, scopes: readonly string[], options?: unknown): Promise<undefined> {
    fake.sessionRequests.push({ id, scopes, options });
    return undefined;
  },
};

// ---- vscode.lm's MCP server definitions (VS Code 1.101+) -------------------------------------------

export class McpStdioServerDefinition {
  cwd?: Uri;
  constructor(public label: string, public command: string, public args: string[] = [], public env: Record<string, string | number | null> = {}, public version?: string) {}
}

export interface FakeMcpProvider {
  onDidChangeMcpServerDefinitions?: Event<void>;
  provideMcpServerDefinitions(token: unknown): McpStdioServerDefinition[] | Promise<McpStdioServerDefinition[]>;
  resolveMcpServerDefinition?(server: McpStdioServerDefinition, token: unknown): McpStdioServerDefinition | Promise<McpStdioServerDefinition>;
}

export const lm = {
  get registerMcpServerDefinitionProvider() {
    if (!fake.mcpApi) return undefined;
    return (id: string, provider: FakeMcpProvider): Disposable => {
      if (fake.mcpApi === 'proposed') throw new Error(`Extension 'tokenrelay.tokenrelay' CANNOT use API proposal: mcpConfigurationProvider.`);
      const entry = { id, provider, disposed: false };
      fake.mcpProviders.push(entry);
      return new Disposable(() => { entry.disposed = true; });
    };
  },
};

export const version = '1.139.1';

export enum LogLevel { Off = 0, Trace = 1, Debug = 2, Info = 3, Warning = 4, Error = 5 }
