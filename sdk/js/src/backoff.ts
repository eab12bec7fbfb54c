/** An exponential back-off: `initialMs` doubling up to `maxMs`. */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

/**
 * The wait before try number `attempt` (0 for the first retry): the step is
 * initialMs * 2^attempt capped at maxMs, and the wait a random point in the
 * upper half of the step ("equal jitter"), so clients that lost the same
 * node do not come back together.
 */
export function backoffDelay(attempt: number, o: Required<BackoffOptions>, random: () => number = Math.random): number {
  const step = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return step / 2 + random() * (step / 2);
}
