// The account's one state, a pure transition function over it, the status consumers see, and the
// events derived from (previous, next). Only signed-out and needs-sign-in are permanent: every
// other trouble (offline, degraded, following a frozen spender, unreadable) heals by itself.
import type { ErrorCode } from './errors.ts';

export interface Problem {
  code: ErrorCode;
  message: string;
}

export type Activity =
  | { kind: 'idle' }
  | { kind: 'refreshing' }
  /** Another process claimed the refresh; its result is awaited (P4). */
  | { kind: 'following'; pid: number };

export type AccountState =
  | { kind: 'loading' }
  | { kind: 'signed-out' }
  | { kind: 'active'; gen: number; activity: Activity; offline?: Problem; degraded?: Problem; error?: Problem }
  | { kind: 'needs-sign-in'; reason: string }
  /** Nothing usable can be read (stale view without K, forged or corrupt record, refused directory). */
  | { kind: 'unreadable'; problem: Problem };

export type AccountInput =
  | { type: 'adopted'; gen: number }
  | { type: 'signed-out' }
  | { type: 'refused'; reason: string }
  | { type: 'unreadable'; problem: Problem }
  | { type: 'refresh-started' }
  | { type: 'following'; pid: number }
  | { type: 'idle' }
  | { type: 'offline'; problem: Problem }
  | { type: 'failed'; problem: Problem }
  | { type: 'degraded'; problem: Problem }
  | { type: 'persisted' };

export function transition(s: AccountState, input: AccountInput): AccountState {
  switch (input.type) {
    case 'adopted':
      // A new generation clears what concerned the old one (the broker re-marks one it could not persist).
      if (s.kind === 'active' && s.gen === input.gen) return s;
      return { kind: 'active', gen: input.gen, activity: { kind: 'idle' } };
    case 'signed-out':
      return { kind: 'signed-out' };
    case 'refused':
      return { kind: 'needs-sign-in', reason: input.reason };
    case 'unreadable':
      return { kind: 'unreadable', problem: input.problem };
  }
  if (s.kind !== 'active') return s; // the rest only qualify an active account
  switch (input.type) {
    case 'refresh-started':
      return { ...s, activity: { kind: 'refreshing' }, error: undefined };
    case 'following':
      return { ...s, activity: { kind: 'following', pid: input.pid } };
    case 'idle':
      return s.activity.kind === 'idle' ? s : { ...s, activity: { kind: 'idle' } };
    case 'offline':
      return { ...s, activity: { kind: 'idle' }, offline: input.problem };
    case 'failed':
      return { ...s, activity: { kind: 'idle' }, error: input.problem };
    case 'degraded':
      return { ...s, degraded: input.problem };
    case 'persisted':
      return { ...s, degraded: undefined };
  }
}

/** What the status bar, the CLI and other consumers call the state. */
export type StatusName = 'signed-out' | 'signed-in' | 'refreshing' | 'needs-sign-in' | 'offline' | 'degraded' | 'error';

export function statusNameOf(s: AccountState): StatusName {
  switch (s.kind) {
    case 'loading':
    case 'signed-out': return 'signed-out';
    case 'needs-sign-in': return 'needs-sign-in';
    case 'unreadable': return 'error';
    case 'active':
      if (s.activity.kind !== 'idle') return 'refreshing';
      if (s.degraded) return 'degraded';
      if (s.offline) return 'offline';
      if (s.error) return 'error';
      return 'signed-in';
  }
}

export function problemOf(s: AccountState): Problem | undefined {
  if (s.kind === 'unreadable') return s.problem;
  if (s.kind === 'needs-sign-in') return { code: 'needs-sign-in', message: s.reason };
  if (s.kind === 'active') return s.degraded ?? s.offline ?? s.error;
  return undefined;
}

export type EventName = 'signed-out' | 'signed-in' | 'refreshing' | 'refreshed' | 'needs-sign-in' | 'offline' | 'degraded' | 'error';

/** The event a change from `prev` to `next` means, if any. */
export function eventOf(prev: AccountState, next: AccountState): EventName | undefined {
  if (prev === next) return undefined;
  if (next.kind === 'signed-out') return prev.kind === 'signed-out' ? undefined : 'signed-out';
  if (next.kind === 'needs-sign-in') return prev.kind === 'needs-sign-in' ? undefined : 'needs-sign-in';
  if (next.kind === 'unreadable') return prev.kind === 'unreadable' && prev.problem.message === next.problem.message ? undefined : 'error';
  if (next.kind !== 'active') return undefined;
  if (prev.kind !== 'active') return 'signed-in';
  if (next.gen > prev.gen) return 'refreshed';
  if (next.activity.kind !== 'idle' && prev.activity.kind === 'idle') return 'refreshing';
  if (next.degraded && !prev.degraded) return 'degraded';
  if (next.offline && !prev.offline) return 'offline';
  if (next.error && !prev.error) return 'error';
  if (!next.degraded && prev.degraded) return 'refreshed';
  return undefined;
}
