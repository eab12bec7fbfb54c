/**
 * An error from the server (an `error` frame's or a REST answer's `code` and
 * `message`) or from the client itself: `closed` (the client was closed),
 * `aborted` (the caller's signal), `timeout` (the caller's `timeoutMs`),
 * `queue_full` (too many sends waiting), `network` (REST: no answer).
 */
export class IMError extends Error {
  readonly code: string;
  /** HTTP status of a REST error, 0 otherwise. */
  readonly status: number;
  /** The server's `retry_after_ms` (or REST `Retry-After` in ms), when it set one. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, status = 0, retryAfterMs?: number) {
    super(message || code);
    this.name = 'IMError';
    this.code = code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The codes after which a send is retried with the same client_msg_id (docs/protocol.md §6). */
export const RETRYABLE_CODES: readonly string[] = ['unavailable', 'internal', 'rate_limited'];
