// Hands the current credentials to sibling processes of the same user whose secret view is stale
// (code-server snapshots, desktop propagation lag). Only this user can reach the 0700 socket dir.
//
// Siblings are linked: one long-lived two-way connection per pair, opened with the generation each
// side holds and kept. A starting broker links to every registered sibling (it registers before it
// lists, so of two starting together at least one links the other); a spender not linked yet is
// linked on demand from its spend claim, and a writer whose generation cannot be read, from its
// record. A writer announces a journaled generation as one write per link, so waiters adopt it with
// no connection set-up, journal read or pull while the CPUs are busiest. `credentials` (pull)
// remains for asking siblings that are not linked.
import { listenJson, type JsonServer } from '../ipc/jsonServer.ts';
import { postJson } from '../ipc/jsonClient.ts';
import { openEventLink, type EventLink, type EventLinkHandlers } from '../ipc/eventLink.ts';
import { newSocketPath } from '../ipc/socketDir.ts';
import { TokenRelayError } from './errors.ts';
import { parseCredentials, serializeCredentials, type Credentials } from './credentials.ts';
import { fingerprint } from './fingerprint.ts';
import type { GenerationRecord, Writer } from './journal.ts';
import type { Logger } from './types.ts';

/** A journaled generation with its credentials. */
export interface Announcement {
  record: GenerationRecord;
  credentials: Credentials;
}

export interface MeshHandlers {
  /** The journaled generation this process holds now, if any. */
  current(): Announcement | undefined;
  /** Credentials of generation `gen`, if held here. */
  credentials(gen: number): Credentials | undefined;
  announced(announcement: Announcement): void;
}

interface Message {
  from: Pick<Writer, 'id' | 'pid'>;
  record?: GenerationRecord;
  credentials?: string;
}

export class PeerMesh {
  /** Open links by sibling id; a pair that linked both ways at once keeps both (harmless). */
  private readonly links = new Map<string, Set<EventLink>>();
  private readonly unlinkWaiters = new Map<string, Set<() => void>>();
  private server: JsonServer | undefined;
  private closed = false;

  private constructor(private readonly self: Writer, private readonly handlers: MeshHandlers) {}

  static async open(socketDir: string, self: Writer, handlers: MeshHandlers, log: Logger): Promise<PeerMesh> {
    const mesh = new PeerMesh(self, handlers);
    mesh.server = await listenJson(newSocketPath(socketDir, 'peer'), {
      log,
      routes: {
        credentials: async (body) => {
          const held = typeof body.gen === 'number' ? handlers.credentials(body.gen) : undefined;
          if (!held) throw new TokenRelayError('stale-view', `Generation ${String(body.gen)} is not held here.`);
          return { credentials: serializeCredentials(held) };
        },
      },
      links: { link: (link) => mesh.accept(link) },
    });
    return mesh;
  }

  get socketPath(): string {
    return this.server!.socketPath;
  }

  /** Links to a sibling (no-op if linked already); it answers with the generation it holds. */
  connect(peer: { id: string; socket: string }): void {
    if (this.closed || peer.id === this.self.id || this.links.has(peer.id)) return;
    const link: EventLink = openEventLink(peer.socket, 'link', this.handlersFor(peer.id, () => link));
    this.track(peer.id, link);
    link.send(this.message(this.handlers.current()));
  }

  isLinked(id: string): boolean {
    return this.links.has(id);
  }

  /** Resolves once no link to sibling `id` is open (at once if none is). */
  unlinked(id: string): Promise<void> {
    if (!this.links.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.unlinkWaiters.get(id) ?? new Set();
      waiters.add(resolve);
      this.unlinkWaiters.set(id, waiters);
    });
  }

  /** One write per link; call only once the generation is journaled. */
  announce(announcement: Announcement): void {
    const message = this.message(announcement);
    for (const set of this.links.values()) for (const link of set) link.send(message);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const set of [...this.links.values()]) for (const link of [...set]) link.close();
    this.links.clear();
    for (const waiters of this.unlinkWaiters.values()) for (const resolve of waiters) resolve();
    this.unlinkWaiters.clear();
    await this.server?.close();
  }

  /** A sibling linking to us: each side opens with what it holds; its id comes with its first message. */
  private accept(link: EventLink): EventLinkHandlers {
    link.send(this.message(this.handlers.current()));
    return this.handlersFor(undefined, () => link);
  }

  private handlersFor(knownId: string | undefined, linkOf: () => EventLink): EventLinkHandlers {
    let id = knownId;
    return {
      event: (value) => {
        const message = value as Message;
        if (id === undefined) {
          if (typeof message?.from?.id !== 'string') return;
          id = message.from.id;
          this.track(id, linkOf());
        }
        const announcement = parseAnnouncement(message);
        if (announcement) this.handlers.announced(announcement);
      },
      closed: () => {
        if (id !== undefined) this.untrack(id, linkOf());
      },
    };
  }

  private track(id: string, link: EventLink): void {
    if (this.closed) return link.close();
    let set = this.links.get(id);
    if (!set) this.links.set(id, (set = new Set()));
    set.add(link);
  }

  private untrack(id: string, link: EventLink): void {
    const set = this.links.get(id);
    set?.delete(link);
    if (set?.size !== 0) return;
    this.links.delete(id);
    for (const resolve of this.unlinkWaiters.get(id) ?? []) resolve();
    this.unlinkWaiters.delete(id);
  }

  private message(a: Announcement | undefined): Message {
    const from = { id: this.self.id, pid: this.self.pid };
    return a ? { from, record: a.record, credentials: serializeCredentials(a.credentials) } : { from };
  }
}

export async function askPeer(socket: string, gen: number, timeoutMs = 2000): Promise<Credentials | undefined> {
  try {
    const reply = await postJson<{ credentials: string }>(socket, 'credentials', { gen }, timeoutMs);
    return parseCredentials(reply.credentials);
  } catch {
    return undefined; // unreachable, not holding it, or unreadable: the caller tries elsewhere
  }
}

/** Only a well-formed active record whose credentials match it is taken; anything else is ignored. */
function parseAnnouncement(message: Message): Announcement | undefined {
  const { record, credentials } = message ?? {};
  if (!record || record.v !== 1 || record.state !== 'active' || typeof record.gen !== 'number' || typeof credentials !== 'string') return undefined;
  try {
    const parsed = parseCredentials(credentials);
    if (parsed.gen !== record.gen) return undefined;
    if (record.refreshFp && fingerprint(parsed.tokens.refreshToken ?? '') !== record.refreshFp) return undefined;
    return { record, credentials: parsed };
  } catch {
    return undefined;
  }
}
