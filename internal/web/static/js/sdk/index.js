// @im-websocket-go/client: the TypeScript/JavaScript client of im-websocket-go.
// See docs/sdk.md ("JavaScript / TypeScript") and docs/protocol.md.
export { Client, CLOSE_REVOKED, newClientMsgID } from './client.js';
export { IMError, RETRYABLE_CODES } from './errors.js';
export { backoffDelay } from './backoff.js';
export { Rest } from './rest.js';
export { CHANGE_KINDS } from './types.js';
