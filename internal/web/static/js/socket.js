// The WebSocket connection, on the TypeScript SDK (./sdk, a copy of
// sdk/js/dist): it connects with the access token, reconnects with
// exponential back-off and jitter, pings, resends unacknowledged sends with
// their client_msg_id and syncs the rooms it tracks after every hello. This
// file adds what is the page's: the session's tokens (api.js), the
// "online" event, and revocation. Frames are handed to the `onFrame`
// callback; `onState` hears "connecting", "open" (after hello),
// "reconnecting" and "closed".
// A revoked session (signed out from another device, password changed,
// account deleted) gets a session_revoked event and the close status 4001:
// the socket stops for good and `onRevoked(reason)` is called once.

import { Client, CLOSE_REVOKED as REVOKED } from './sdk/index.js';
import { freshToken, refresh, currentSession } from './api.js';

/** The close status of a socket whose session was revoked. */
export const CLOSE_REVOKED = REVOKED;

export class Socket {
  constructor({ onFrame, onMessage, onState, onOpen, onRevoked }) {
    this.onFrame = onFrame;
    this.onMessage = onMessage;
    this.onState = onState;
    this.onOpen = onOpen;
    this.onRevoked = onRevoked;
    this.revokedTimer = 0;
    this.revokedReason = '';
    this.client = null;
    this.token = '';
    this.state = 'closed';
    window.addEventListener('online', () => { if (this.client && this.state === 'reconnecting') this.reconnectNow(); });
  }

  /** Whether the server said hello on the current connection. */
  get ready() { return !!this.client && this.client.isOpen; }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.onState(s);
  }

  start() {
    if (this.client) return;
    this.revokedReason = '';
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const c = new Client({
      url: `${proto}//${location.host}/ws`,
      // Before every attempt; after a refusal (or an expired token) refresh
      // first. A 401 from the refresh (logged out) closes the client.
      token: async (ctx) => {
        if (ctx.refresh) await refresh();
        const t = await freshToken(60000);
        this.token = t;
        return t;
      },
      // The page learns its rooms from the conversations.
      trackUnknownRooms: false,
      clientIdPrefix: 'web',
    });
    this.client = c;
    c.on('state', (s) => {
      if (this.client !== c) return;
      if (s === 'closed') this.client = null; // closed itself: logged out
      if (s !== 'idle') this.setState(s);
    });
    c.on('close', ({ code, reason }) => {
      // For the tests and for debugging: how the last socket ended.
      document.body.dataset.wsClose = `${code} ${reason || ''}`.trim();
    });
    c.on('revoked', (reason) => this.revoked(reason || this.revokedReason || '', c));
    c.on('open', (hello) => {
      // The token may have been refreshed while connecting.
      const s = currentSession();
      if (s) this.refreshToken(s.access_token);
      this.onOpen(hello);
    });
    c.on('frame', (f) => { if (this.client === c) this.receive(f); });
    // Messages (live, from a sync, acks) once per room and seq.
    c.on('message', (m, info) => { if (this.client === c) this.onMessage(m, info); });
    c.connect();
  }

  stop() {
    clearTimeout(this.revokedTimer);
    const c = this.client;
    this.client = null;
    if (c) c.close();
    this.setState('closed');
  }

  reconnectNow() {
    if (this.client) this.client.reconnectNow();
  }

  /** Sends a frame if the connection is ready; returns whether it was sent. */
  send(frame) {
    return !!this.client && this.client.sendFrame(frame);
  }

  /**
   * Sends a `send` or a change frame (with its client_msg_id) until its ack:
   * resolves to the stored message, rejects with the SDK's IMError (`code`,
   * `message`); `closed` once the page stopped the socket.
   */
  request(frame) {
    const c = this.client;
    if (!c) return Promise.reject(Object.assign(new Error('the connection is closed'), { code: 'closed' }));
    if (frame.type === 'send') {
      const { type, room_id: room, ...input } = frame;
      return c.send(room, input);
    }
    return c.change(frame);
  }

  /** Stops repeating a send (its promise rejects with `aborted`). */
  cancel(clientMsgID) {
    if (this.client) this.client.cancel(clientMsgID);
  }

  /** Syncs the room from cursor now (when open) and after every reconnect. */
  track(room, cursor) {
    if (this.client) this.client.track(room, cursor);
  }

  untrack(room) {
    if (this.client) this.client.untrack(room);
  }

  /** Sends a new access token over the open socket (after a refresh). */
  refreshToken(token) {
    if (token && token !== this.token && this.send({ type: 'refresh', access_token: token })) this.token = token;
  }

  /** The session was revoked: never reconnect with these tokens. */
  revoked(reason, c = this.client) {
    if (!c || c.revokedDone) return;
    c.revokedDone = true;
    if (this.client === c) this.stop();
    else clearTimeout(this.revokedTimer);
    this.onRevoked(reason);
  }

  receive(f) {
    switch (f.type) {
      case 'hello':
      case 'pong':
      case 'reconnect':
      case 'message': // onMessage, deduped
      case 'ack': // the promise of request()
      case 'synced':
        return; // the SDK's
      case 'event':
        if (f.event === 'session_revoked' && this.isMine(f.data)) {
          // The close frame (4001) follows; should it not come, end anyway.
          this.revokedReason = (f.data && f.data.reason) || '';
          clearTimeout(this.revokedTimer);
          const c = this.client;
          this.revokedTimer = setTimeout(() => this.revoked(this.revokedReason, c), 1500);
          return;
        }
        break;
    }
    this.onFrame(f);
  }

  /** Whether a session_revoked event's data names this page's session. */
  isMine(data) {
    if (!data || data.all) return true;
    const s = currentSession();
    const ids = Array.isArray(data.session_ids) ? data.session_ids : [];
    return !s || !s.session_id || ids.length === 0 || ids.includes(s.session_id);
  }
}
