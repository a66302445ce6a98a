// A long-lived, two-way link between two processes of this user: an HTTP/1.1 Upgrade on the unix
// socket (route and protocol version checked like any request), after which both sides write
// newline-delimited JSON on the bare socket. Set up once per pair. Reading and closing it go
// through no HTTP machinery: a storm's short-lived processes leaving cost their siblings little.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { MAX_BODY_BYTES, PROTOCOL_VERSION } from './wire.ts';

/** The `upgrade` token both sides agree on. */
export const LINK_PROTOCOL = 'tokenrelay-link';
/** A sibling that stops reading (a frozen process) is unlinked rather than buffered for without bound. */
const MAX_UNSENT_BYTES = 1024 * 1024;

export interface EventLinkHandlers {
  event(value: unknown): void;
  /** Once, when the link ends for any reason (`reason` names it: an errno code, an HTTP status, …). */
  closed(reason: string): void;
}

export interface EventLink {
  send(value: unknown): void;
  close(): void;
}

/** Client side: `GET /v<n>/<route>` asking to upgrade; values sent before the answer are queued. */
export function openEventLink(socketPath: string, route: string, handlers: EventLinkHandlers): EventLink {
  // Our own connection, no Agent: an Agent validates the host with net.isIP, whose large regular
  // expression costs a fresh process about a millisecond to compile. `socketPath` stays set: VS Code's
  // extension host patches http.request for proxies and leaves socket requests alone.
  const req = request({
    socketPath, path: `/v${PROTOCOL_VERSION}/${route}`, method: 'GET', createConnection: () => connect(socketPath),
    headers: { connection: 'Upgrade', upgrade: LINK_PROTOCOL },
  });
  const link = new Link(handlers, () => req.destroy());
  req.on('socket', (socket) => socket.unref()); // a link never keeps a process alive
  req.on('error', (err: NodeJS.ErrnoException) => link.end(err.code ?? err.message));
  req.on('response', (res) => {
    res.resume();
    link.end(`HTTP ${res.statusCode}`); // refused: unknown route, another protocol version, …
  });
  req.on('upgrade', (_res, socket, head) => link.attach(socket, head));
  req.end();
  return link;
}

/** Server side, once the 101 is written: `route` gets the link and returns what to do with its events. */
export function acceptEventLink(socket: Socket, head: Buffer, route: (link: EventLink) => EventLinkHandlers): EventLink {
  let handlers: EventLinkHandlers = { event: () => undefined, closed: () => undefined };
  const link = new Link({ event: (v) => handlers.event(v), closed: (r) => handlers.closed(r) });
  handlers = route(link);
  link.attach(socket, head);
  return link;
}

class Link implements EventLink {
  private socket: Socket | undefined;
  private unsent: string[] = [];
  private done = false;

  /** `abort` cancels a link still waiting for its upgrade. */
  constructor(private readonly handlers: EventLinkHandlers, private readonly abort?: () => void) {}

  send(value: unknown): void {
    if (this.done) return;
    const line = `${JSON.stringify(value)}\n`;
    if (!this.socket) {
      this.unsent.push(line);
    } else if (this.socket.writableLength > MAX_UNSENT_BYTES) {
      this.end('the other side stopped reading');
    } else {
      this.socket.write(line);
    }
  }

  close(): void {
    this.end('closed here');
  }

  attach(socket: Socket, head: Buffer): void {
    if (this.done) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    socket.unref();
    const decoder = new StringDecoder('utf8');
    let pending = '';
    const take = (chunk: Buffer) => {
      pending += decoder.write(chunk);
      for (let nl = pending.indexOf('\n'); nl >= 0 && !this.done; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          return this.end('malformed event');
        }
        this.handlers.event(value);
      }
      if (pending.length > MAX_BODY_BYTES) this.end('event too large');
    };
    socket.on('data', take);
    socket.on('end', () => this.end('ended'));
    socket.on('close', () => this.end('closed'));
    socket.on('error', (err: NodeJS.ErrnoException) => this.end(err.code ?? err.message));
    for (const line of this.unsent.splice(0)) socket.write(line);
    if (head.length > 0) take(head);
  }

  end(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.unsent = [];
    const socket = this.socket;
    if (!socket) {
      this.abort?.();
    } else if (socket.writableLength === 0) {
      socket.destroy(); // the other side reads a clean end
    } else {
      socket.end(() => socket.destroy()); // what is still queued goes out first
      setTimeout(() => socket.destroy(), 1000).unref();
    }
    this.handlers.closed(reason);
  }
}
