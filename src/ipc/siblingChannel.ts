// The core's SiblingChannel over unix sockets: a window answers `POST /v<n>/key` (K by its id) and
// `POST /v<n>/adopt` (a sealed generation an exiting process could not write, which the broker
// authenticates under K before taking it) and `POST /v<n>/newer` (the sealed generation it holds,
// if newer than the asker's: one handed over to it and not yet written) on a peer socket
// in this user's private socket directory, and registers that socket in the slot's `peers/`
// folder. A registration is only a hint: a peer socket is connected to only when it lies directly
// inside one of this user's socket directories (any of socketDirCandidates, whatever this process's
// XDG_RUNTIME_DIR, or its own preferred and fallback ones) that is private now, and is a socket
// owned by this user with no group or other bits (isTrustedSocket).
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AdoptRecord, HeldAfter, SiblingChannel } from '../core/siblings.ts';
import type { Logger } from '../core/types.ts';
import { replaceDurable } from '../core/durableFile.ts';
import { processAlive } from '../core/processIdentity.ts';
import { listenJson, type JsonServer } from './jsonServer.ts';
import { chooseSocketDir, fallbackSocketDirs, newSocketPath } from './socketDir.ts';
import { isTrustedSocket, socketDirCandidates } from './socketPaths.ts';
import { IpcRemoteError, postJson } from './jsonClient.ts';

const ASK_TIMEOUT_MS = 1000;
/** Siblings asked per K request, and the time all of them may take together. */
const MAX_ASKED = 16;
const ASK_BUDGET_MS = 3000;
/**
 * Registrations read per K request. A later request goes on where this one stopped, so thousands
 * of junk registrations cost each request a bounded scan and hide no sibling for long.
 */
const MAX_SCANNED = 1024;
/** One warning about untrusted registrations per this interval; the rest are counted into it. */
const WARN_EVERY_MS = 60_000;
/** Siblings remembered for having answered a wrong K (each is logged once). */
const MAX_REMEMBERED = 1024;

interface Registration {
  socket: string;
  pid: number;
}

export class UnixSiblingChannel implements SiblingChannel {
  private server: JsonServer | undefined;
  private registration: string | undefined;
  private readonly id = randomBytes(6).toString('hex');
  /** Where the next scan of the registrations starts, and the registration that last gave K. */
  private cursor = 0;
  private lastGood: string | undefined;
  private readonly wrong = new Set<string>();
  private lastUntrustedWarning = -Infinity;
  private untrustedUnsaid = 0;

  private readonly socketDirs: string[];
  /** Where a sibling's socket may be: a sibling may have another XDG_RUNTIME_DIR (or none) than this process. */
  private readonly trustedDirs: string[];

  constructor(socketDir: string, private readonly log: Logger, fallbacks: string[] = fallbackSocketDirs()) {
    this.socketDirs = [...new Set([socketDir, ...fallbacks].map((d) => resolve(d)))];
    this.trustedDirs = [...new Set([...this.socketDirs, ...socketDirCandidates().map((d) => resolve(d))])];
  }

  async listen(peersDir: string, answerKey: (keyId: string) => Buffer | undefined, adopt?: AdoptRecord, heldAfter?: HeldAfter): Promise<void> {
    const { dir } = chooseSocketDir(this.socketDirs[0], this.socketDirs.slice(1));
    this.server = await listenJson(newSocketPath(dir, 'peer'), {
      log: this.log,
      routes: {
        key: async (body) => {
          const key = typeof body.id === 'string' ? answerKey(body.id) : undefined;
          return key ? { key: key.toString('base64') } : { key: null };
        },
        adopt: async (body) => ({ adopted: !!adopt && typeof body.record === 'string' && await adopt(body.record) }),
        newer: async (body) => ({ record: (heldAfter && typeof body.gen === 'number' && heldAfter(body.gen)) || null }),
      },
    });
    this.registration = join(peersDir, `peer-${this.id}.json`);
    replaceDurable(peersDir, join(dirname(peersDir), '.tmp'), `peer-${this.id}.json`, JSON.stringify({ socket: this.server.socketPath, pid: process.pid } satisfies Registration));
  }

  async askKey(peersDir: string, keyId: string, accept: (key: Buffer) => boolean): Promise<Buffer | undefined> {
    return this.askEach(peersDir, async (peer, timeoutMs) => {
      const answer = await ask(peer.socket, keyId, timeoutMs).catch(() => undefined);
      if (!answer) return undefined;
      if (accept(answer)) {
        this.lastGood = peer.name;
        return answer;
      }
      this.wrongKey(peer, keyId);
      return undefined;
    });
  }

  async handOver(peersDir: string, record: string): Promise<number | undefined> {
    return this.askEach(peersDir, async (peer, timeoutMs) => {
      const answer = await post(peer.socket, 'adopt', { record }, timeoutMs).catch(() => undefined);
      return answer?.adopted === true ? peer.pid : undefined;
    });
  }

  async askNewer(peersDir: string, gen: number, accept: AdoptRecord): Promise<number | undefined> {
    return this.askEach(peersDir, async (peer, timeoutMs) => {
      const answer = await post(peer.socket, 'newer', { gen }, timeoutMs).catch(() => undefined);
      return typeof answer?.record === 'string' && await accept(answer.record) ? peer.pid : undefined;
    });
  }

  /**
   * Asks the registered siblings one at a time until one gives an answer: at most MAX_ASKED of them,
   * within ASK_BUDGET_MS in all. `askOne` passes over a sibling that fails or does not answer in time.
   */
  private async askEach<T>(peersDir: string, askOne: (peer: Registration & { name: string }, timeoutMs: number) => Promise<T | undefined>): Promise<T | undefined> {
    const deadline = performance.now() + ASK_BUDGET_MS;
    let asked = 0;
    for (const peer of this.peers(peersDir)) {
      const left = deadline - performance.now();
      if (asked++ >= MAX_ASKED || left <= 0) break;
      const answer = await askOne(peer, Math.min(ASK_TIMEOUT_MS, left));
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  /** A sibling answered a K that is not the slot's: said once per sibling, then only passed over. */
  private wrongKey(peer: Registration & { name: string }, keyId: string): void {
    if (this.wrong.has(peer.socket) || this.wrong.size >= MAX_REMEMBERED) return;
    this.wrong.add(peer.socket);
    this.log.warn(`The sibling pid ${peer.pid} (${peer.socket}) answered a seal key that is not the one this slot's records name (key-id ${keyId}); asking the others`);
  }

  async close(): Promise<void> {
    if (this.registration) {
      try { unlinkSync(this.registration); } catch { /* gone already */ }
    }
    await this.server?.close();
  }

  /**
   * Registered live siblings whose socket passes the checks, read lazily: the one that last gave K
   * first, then at most MAX_SCANNED registrations from where the previous request stopped. Stale
   * registrations are removed; untrusted ones are warned about, at most once per WARN_EVERY_MS.
   */
  private *peers(peersDir: string): Generator<Registration & { name: string }> {
    const names = readdirSync(peersDir).filter((n) => /^peer-[0-9a-f]+\.json$/.test(n) && n !== `peer-${this.id}.json`).sort();
    if (!names.length) return;
    const start = this.cursor % names.length;
    const first = this.lastGood && names.includes(this.lastGood) ? [this.lastGood] : [];
    const order = [...first, ...[...names.slice(start), ...names.slice(0, start)].filter((n) => n !== this.lastGood)];
    const untrusted: string[] = [];
    let scanned = 0;
    try {
      for (const name of order) {
        if (scanned >= MAX_SCANNED) break;
        scanned++;
        const entry = this.readRegistration(peersDir, name);
        if (!entry) continue;
        if (this.trusted(entry.socket)) yield { ...entry, name };
        else untrusted.push(entry.socket);
      }
    } finally {
      this.cursor = start + scanned;
      this.warnUntrusted(untrusted);
    }
  }

  /** A registration's content, or undefined (unreadable, or its process is gone: then removed). */
  private readRegistration(peersDir: string, name: string): Registration | undefined {
    let entry: Registration;
    try {
      entry = JSON.parse(readFileSync(join(peersDir, name), 'utf8'));
    } catch {
      return undefined;
    }
    if (typeof entry?.socket !== 'string' || typeof entry.pid !== 'number') return undefined;
    if (!processAlive(entry.pid)) {
      try { unlinkSync(join(peersDir, name)); } catch { /* another window cleaned it */ }
      return undefined;
    }
    return entry;
  }

  private warnUntrusted(sockets: string[]): void {
    this.untrustedUnsaid += sockets.length;
    const now = performance.now();
    if (!this.untrustedUnsaid || now - this.lastUntrustedWarning < WARN_EVERY_MS) return;
    const where = `not a private socket of this user in ${this.trustedDirs.join(' or ')}`;
    const count = this.untrustedUnsaid;
    this.log.warn(count === 1 && sockets.length === 1
      ? `Ignoring a sibling registration naming ${sockets[0]}: ${where}`
      : `Ignoring ${count} sibling registrations naming sockets that are ${where}${sockets.length ? ` (for example ${sockets[0]})` : ''}; said at most once a minute`);
    this.lastUntrustedWarning = now;
    this.untrustedUnsaid = 0;
  }

  private trusted(socket: string): boolean {
    if (process.platform === 'win32') return socket.startsWith('\\\\.\\pipe\\tokenrelay-');
    return isTrustedSocket(socket, this.trustedDirs);
  }
}

/** One request for K; the answer is only a candidate: the keyring checks its id. */
async function ask(socketPath: string, keyId: string, timeoutMs: number): Promise<Buffer | undefined> {
  const value = await post(socketPath, 'key', { id: keyId }, timeoutMs);
  return typeof value?.key === 'string' ? Buffer.from(value.key, 'base64') : undefined;
}

/** One request (jsonClient: no node:http client to load); undefined for an error answer or one that is not a JSON object. */
async function post(socketPath: string, route: string, payload: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
  const value = await postJson<unknown>(socketPath, route, payload, timeoutMs).catch((err: unknown) => {
    if (err instanceof IpcRemoteError) return undefined; // an error answer, or not JSON: nothing from this sibling
    throw err;
  });
  return value && typeof value === 'object' ? value as Record<string, unknown> : undefined;
}
