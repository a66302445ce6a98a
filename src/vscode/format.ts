// Small text formatting shared by the status bar and the sign-in UI.

/** Remaining time as m:ss (minutes unbounded), never negative. */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}
