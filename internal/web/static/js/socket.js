// The WebSocket connection: connect with the access token, reconnect with
// exponential back-off and jitter, heartbeat pings, token refresh on the
// open socket. Frames are handed to the `onFrame` callback; `onState` hears
// "connecting", "open" (after hello), "reconnecting" and "closed".
// A revoked session (signed out from another device, password changed,
// account deleted) gets a session_revoked event and the close status 4001:
// the socket stops for good and `onRevoked(reason)` is called once.

import { freshToken, refresh, currentSession, APIError } from './api.js';

/** The close status of a socket whose session was revoked. */
export const CLOSE_REVOKED = 4001;

export class Socket {
  constructor({ onFrame, onState, onOpen, onRevoked }) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.onOpen = onOpen;
    this.onRevoked = onRevoked;
    this.revokedTimer = 0;
    this.revokedReason = '';
    this.ws = null;
    this.ready = false; // hello received
    this.stopped = true;
    this.attempt = 0;
    this.timer = 0;
    this.heartbeat = 0;
    this.pongTimer = 0;
    this.lastRecv = 0;
    this.lastSent = 0;
    this.heartbeatMs = 30000;
    this.nextDelay = null; // forced delay for the next reconnect (ms)
    this.needRefresh = false;
    this.token = '';
    this.state = 'closed';
    window.addEventListener('online', () => { if (!this.stopped && !this.ws) this.reconnectNow(); });
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.onState(s);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.revokedReason = '';
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.revokedTimer);
    this.teardown();
    this.setState('closed');
  }

  reconnectNow() {
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  async connect() {
    clearTimeout(this.timer);
    if (this.stopped || this.ws) return;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let token;
    try {
      if (this.needRefresh) { await refresh(); this.needRefresh = false; }
      token = await freshToken(60000);
    } catch (e) {
      if (e instanceof APIError && e.status === 401) { this.stop(); return; } // logged out
      this.retry();
      return;
    }
    if (this.stopped || this.ws) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}/ws?access_token=${encodeURIComponent(token)}`);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    this.token = token;
    this.ready = false;
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      const hadHello = this.ready;
      // For the tests and for debugging: how the last socket ended.
      document.body.dataset.wsClose = `${ev.code} ${ev.reason || ''}`.trim();
      this.teardown();
      if (ev.code === CLOSE_REVOKED) {
        this.revoked(ev.reason || this.revokedReason || '');
        return;
      }
      if (this.stopped) return;
      // Refused or dropped before hello: maybe the token; refresh first.
      if (!hadHello) this.needRefresh = true;
      this.retry();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  retry() {
    if (this.stopped) return;
    this.setState('reconnecting');
    let delay;
    if (this.nextDelay !== null) {
      delay = this.nextDelay;
      this.nextDelay = null;
    } else {
      // 0.5 s, 1 s, 2 s ... up to 10 s, with jitter.
      const base = Math.min(10000, 500 * 2 ** this.attempt);
      delay = base / 2 + Math.random() * base / 2;
    }
    this.attempt++;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** The session was revoked: never reconnect with these tokens. */
  revoked(reason) {
    if (this.stopped) return;
    this.stop();
    this.onRevoked(reason);
  }

  teardown() {
    clearInterval(this.heartbeat);
    clearTimeout(this.pongTimer);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch { /* already closed */ }
    }
  }

  /** Sends a frame if the connection is ready; returns whether it was sent. */
  send(frame) {
    if (!this.ws || !this.ready || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    this.lastSent = Date.now();
    return true;
  }

  /** Sends a new access token over the open socket (after a refresh). */
  refreshToken(token) {
    if (token && token !== this.token && this.send({ type: 'refresh', access_token: token })) this.token = token;
  }

  receive(data) {
    this.lastRecv = Date.now();
    let f;
    try { f = JSON.parse(data); } catch { return; }
    if (!f || typeof f.type !== 'string') return;
    switch (f.type) {
      case 'hello':
        this.ready = true;
        this.attempt = 0;
        this.heartbeatMs = Math.max(5, Number(f.heartbeat_s) || 30) * 1000;
        this.startHeartbeat();
        this.setState('open');
        // The token may have been refreshed while connecting.
        { const s = currentSession(); if (s) this.refreshToken(s.access_token); }
        this.onOpen(f);
        return;
      case 'pong':
        return;
      case 'reconnect':
        // The node is going away: come back after a short random delay.
        this.nextDelay = Math.random() * 2000;
        return;
      case 'error':
        if (f.code === 'unauthenticated' && !f.client_msg_id) this.needRefresh = true;
        break;
      case 'event':
        if (f.event === 'session_revoked' && this.isMine(f.data)) {
          // The close frame (4001) follows; should it not come, end anyway.
          this.revokedReason = (f.data && f.data.reason) || '';
          clearTimeout(this.revokedTimer);
          this.revokedTimer = setTimeout(() => this.revoked(this.revokedReason), 1500);
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

  startHeartbeat() {
    clearInterval(this.heartbeat);
    // Check often; ping when nothing was sent for a heartbeat interval, and
    // give up on a connection silent for a few seconds after a ping.
    const tick = Math.min(this.heartbeatMs, 5000);
    this.heartbeat = setInterval(() => {
      if (!this.ready) return;
      if (Date.now() - this.lastSent >= this.heartbeatMs - tick / 2) {
        const sentAt = Date.now();
        this.send({ type: 'ping' });
        clearTimeout(this.pongTimer);
        this.pongTimer = setTimeout(() => {
          if (this.lastRecv < sentAt && this.ws) {
            // No answer: the connection is dead.
            this.teardown();
            this.retry();
          }
        }, 8000);
      }
    }, tick);
  }
}
