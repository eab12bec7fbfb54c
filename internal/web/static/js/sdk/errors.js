/**
 * An error from the server (an `error` frame's or a REST answer's `code` and
 * `message`) or from the client itself: `closed` (the client was closed),
 * `aborted` (the caller's signal), `timeout` (the caller's `timeoutMs`),
 * `queue_full` (too many sends waiting), `network` (REST: no answer).
 */
export class IMError extends Error {
    constructor(code, message, status = 0, retryAfterMs) {
        super(message || code);
        this.name = 'IMError';
        this.code = code;
        this.status = status;
        this.retryAfterMs = retryAfterMs;
    }
}
/** The codes after which a send is retried with the same client_msg_id (docs/protocol.md §6). */
export const RETRYABLE_CODES = ['unavailable', 'internal', 'rate_limited'];
