// The connections ("links") to this process's socket servers, terminal and peer ones counted
// together. A same-user process holding connections open must not grow file descriptors without
// bound or lock out terminals and siblings: past the cap the oldest connection that has no request
// in progress makes room (a caller sends its request at once, so an idle link is a stalled or
// hostile one); only when every link is busy is the newcomer turned away.
import type { Socket } from 'node:net';

export const MAX_LINKS = 256;

const live = new Set<Socket>(); // insertion order: oldest first
const busy = new WeakSet<Socket>();

/** Takes a new connection in, evicting the oldest idle one when full; false when all are busy. */
export function admitLink(socket: Socket): boolean {
  if (live.size >= MAX_LINKS) {
    const idle = oldestIdle();
    if (!idle) return false;
    live.delete(idle);
    idle.destroy();
  }
  live.add(socket);
  socket.once('close', () => live.delete(socket));
  return true;
}

function oldestIdle(): Socket | undefined {
  for (const s of live) if (!busy.has(s)) return s;
  return undefined;
}

/** A request is in progress on this link (it is not idle, whatever the silence on the wire). */
export function markBusy(socket: Socket, inProgress: boolean): void {
  if (inProgress) busy.add(socket);
  else busy.delete(socket);
}

export function isBusy(socket: Socket): boolean {
  return busy.has(socket);
}

/** Links open now (tests, diagnostics). */
export function openLinks(): number {
  return live.size;
}
