// The core's SiblingChannel over unix sockets: a window answers `POST /v<n>/key` on a peer socket
// in this user's private socket directory, and registers that socket in the slot's `peers/`
// folder. A registration is only a hint: a peer socket is connected to only when it lies directly
// inside one of this user's socket directories (any of socketDirCandidates, whatever this process's
// XDG_RUNTIME_DIR, or its own preferred and fallback ones) that is private now, and is a socket
// owned by this user with no group or other bits (isTrustedSocket).
import { request } from 'node:http';
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SiblingChannel } from '../core/siblings.ts';
import type { Logger } from '../core/types.ts';
import { replaceDurable } from '../core/durableFile.ts';
import { processAlive } from '../core/processIdentity.ts';
import { listenJson, type JsonServer } from './jsonServer.ts';
import { chooseSocketDir, fallbackSocketDirs, newSocketPath } from './socketDir.ts';
import { isTrustedSocket, socketDirCandidates } from './socketPaths.ts';
import { PROTOCOL_VERSION } from './wire.ts';

const ASK_TIMEOUT_MS = 1000;

interface Registration {
  socket: string;
  pid: number;
}

export class UnixSiblingChannel implements SiblingChannel {
  private server: JsonServer | undefined;
  private registration: string | undefined;
  private readonly id = randomBytes(6).toString('hex');

  private readonly socketDirs: string[];
  /** Where a sibling's socket may be: a sibling may have another XDG_RUNTIME_DIR (or none) than this process. */
  private readonly trustedDirs: string[];

  constructor(socketDir: string, private readonly log: Logger, fallbacks: string[] = fallbackSocketDirs()) {
    this.socketDirs = [...new Set([socketDir, ...fallbacks].map((d) => resolve(d)))];
    this.trustedDirs = [...new Set([...this.socketDirs, ...socketDirCandidates().map((d) => resolve(d))])];
  }

  async listen(peersDir: string, answerKey: (keyId: string) => Buffer | undefined): Promise<void> {
    const { dir } = chooseSocketDir(this.socketDirs[0], this.socketDirs.slice(1));
    this.server = await listenJson(newSocketPath(dir, 'peer'), {
      log: this.log,
      routes: {
        key: async (body) => {
          const key = typeof body.id === 'string' ? answerKey(body.id) : undefined;
          return key ? { key: key.toString('base64') } : { key: null };
        },
      },
    });
    this.registration = join(peersDir, `peer-${this.id}.json`);
    replaceDurable(peersDir, join(dirname(peersDir), '.tmp'), `peer-${this.id}.json`, JSON.stringify({ socket: this.server.socketPath, pid: process.pid } satisfies Registration));
  }

  async askKey(peersDir: string, keyId: string): Promise<Buffer | undefined> {
    for (const peer of this.peers(peersDir)) {
      const answer = await ask(peer.socket, keyId).catch(() => undefined);
      if (answer) return answer;
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.registration) {
      try { unlinkSync(this.registration); } catch { /* gone already */ }
    }
    await this.server?.close();
  }

  /** Registered live siblings whose socket passes the checks; stale registrations are removed. */
  private peers(peersDir: string): Registration[] {
    const found: Registration[] = [];
    for (const name of readdirSync(peersDir)) {
      if (!/^peer-[0-9a-f]+\.json$/.test(name) || name === `peer-${this.id}.json`) continue;
      let entry: Registration;
      try {
        entry = JSON.parse(readFileSync(join(peersDir, name), 'utf8'));
      } catch {
        continue;
      }
      if (typeof entry?.socket !== 'string' || typeof entry.pid !== 'number') continue;
      if (!processAlive(entry.pid)) {
        try { unlinkSync(join(peersDir, name)); } catch { /* another window cleaned it */ }
        continue;
      }
      if (this.trusted(entry.socket)) found.push(entry);
      else this.log.warn(`Ignoring a sibling registration naming ${entry.socket}: not a private socket of this user in ${this.trustedDirs.join(' or ')}`);
    }
    return found;
  }

  private trusted(socket: string): boolean {
    if (process.platform === 'win32') return socket.startsWith('\\\\.\\pipe\\tokenrelay-');
    return isTrustedSocket(socket, this.trustedDirs);
  }
}

/** One request with node's http client; the answer is only a candidate: the keyring checks its id. */
function ask(socketPath: string, keyId: string): Promise<Buffer | undefined> {
  const body = JSON.stringify({ id: keyId });
  return new Promise((resolvePromise, reject) => {
    const req = request({
      socketPath, path: `/v${PROTOCOL_VERSION}/key`, method: 'POST', timeout: ASK_TIMEOUT_MS,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { key?: unknown };
          resolvePromise(res.statusCode === 200 && typeof value.key === 'string' ? Buffer.from(value.key, 'base64') : undefined);
        } catch {
          resolvePromise(undefined);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
