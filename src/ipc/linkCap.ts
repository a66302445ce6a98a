// The connections ("links") to this process's socket servers, terminal and peer ones counted
// together. A same-user process holding connections open must not grow file descriptors without
// bound or lock out terminals and siblings: past the cap the oldest connection that has no request
// in progress makes room (a caller sends its request at once, so a link idle for longer than
// EVICTABLE_AFTER_MS is a stalled or hostile one); when none is, the newcomer is turned away.
import type { Socket } from 'node:net';

export const MAX_LINKS = 256;
/** A new link's time to send its request before it can be evicted. */
export const EVICTABLE_AFTER_MS = 250;

const live = new Map<Socket, number>(); // admission time; insertion order: oldest first
const busy = new WeakSet<Socket>();

/** Takes a new connection in, evicting the oldest idle one when full; false when none can make room. */
export function admitLink(socket: Socket): boolean {
  if (live.size >= MAX_LINKS) {
    const idle = oldestIdle();
    if (!idle) return false;
    live.delete(idle);
    idle.destroy();
  }
  live.set(socket, performance.now());
  socket.once('close', () => live.delete(socket));
  return true;
}

function oldestIdle(): Socket | undefined {
  const evictable = performance.now() - EVICTABLE_AFTER_MS;
  for (const [s, at] of live) {
    if (at > evictable) return undefined; // the rest are younger still
    if (!busy.has(s)) return s;
  }
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
