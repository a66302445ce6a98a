// A long-lived, two-way link over one HTTP/1.1 exchange on the unix socket: the client streams its
// request body and the server its response body, both as newline-delimited JSON. One connection
// serves both directions, so linked processes pay one socket each, set up once.
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { MAX_BODY_BYTES, PROTOCOL_VERSION } from './wire.ts';

export interface EventLinkHandlers {
  event(value: unknown): void;
  /** Once, when the link ends for any reason (`reason` names it: an errno code, an HTTP status, …). */
  closed(reason: string): void;
}

export interface EventLink {
  send(value: unknown): void;
  close(): void;
}

/** Client side: `POST /v<n>/<route>` whose body never ends until the link is closed. */
export function openEventLink(socketPath: string, route: string, handlers: EventLinkHandlers): EventLink {
  // Our own connection, no Agent: an Agent validates the host with net.isIP, whose large regular
  // expression costs a fresh process about a millisecond to compile. `socketPath` stays set: VS Code's
  // extension host patches http.request for proxies and leaves socket requests alone.
  const req = request({
    socketPath, path: `/v${PROTOCOL_VERSION}/${route}`, method: 'POST', createConnection: () => connect(socketPath),
    headers: { 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson' },
  });
  const link = new Link(req, handlers, () => req.destroy());
  req.on('socket', (socket) => socket.unref()); // a link never keeps a process alive
  req.on('error', (err: NodeJS.ErrnoException) => link.end(err.code ?? err.message));
  req.on('response', (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      return link.end(`HTTP ${res.statusCode}`);
    }
    link.read(res);
  });
  req.flushHeaders();
  return link;
}

/** Server side of the same exchange; `route` gets the link and returns what to do with its events. */
export function acceptEventLink(req: IncomingMessage, res: ServerResponse, route: (link: EventLink) => EventLinkHandlers): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  req.socket.unref();
  let handlers: EventLinkHandlers = { event: () => undefined, closed: () => undefined };
  const link = new Link(res, { event: (v) => handlers.event(v), closed: (r) => handlers.closed(r) }, () => req.socket.destroy());
  handlers = route(link);
  link.read(req);
}

class Link implements EventLink {
  private done = false;

  constructor(private readonly out: Writable, private readonly handlers: EventLinkHandlers, private readonly destroy: () => void) {}

  send(value: unknown): void {
    if (!this.done && !this.out.writableEnded && !this.out.destroyed) this.out.write(`${JSON.stringify(value)}\n`);
  }

  close(): void {
    this.end('closed here');
  }

  read(input: Readable): void {
    input.setEncoding('utf8');
    let pending = '';
    input.on('data', (chunk: string) => {
      pending += chunk;
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
    });
    input.on('end', () => this.end('ended'));
    input.on('close', () => this.end('closed'));
    input.on('error', (err: NodeJS.ErrnoException) => this.end(err.code ?? err.message));
  }

  end(reason: string): void {
    if (this.done) return;
    this.done = true;
    // What was written is already in the kernel unless still queued here: then flush it first.
    if (this.out.writableLength > 0) {
      this.out.end();
      setTimeout(this.destroy, 1000).unref();
    } else {
      this.destroy();
    }
    this.handlers.closed(reason);
  }
}
