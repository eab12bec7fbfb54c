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
export declare function backoffDelay(attempt: number, o: Required<BackoffOptions>, random?: () => number): number;
