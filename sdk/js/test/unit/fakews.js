// A fake WebSocket for the client's state machine: the test plays the
// server (hello, frames, closes) and reads what the client sent.

export function fakeServer() {
  const sockets = [];
  const waiters = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = null;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      sockets.push(this);
      for (const w of waiters.splice(0)) w();
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      this.sent.push(JSON.parse(data));
      for (const w of waiters.splice(0)) w();
    }
    close(code = 1000) {
      this.closedByClient = code;
      this.readyState = 3;
    }
    // The server's side.
    hello(heartbeat_s = 30) {
      this.readyState = 1;
      if (this.onopen) this.onopen({});
      this.recv({ type: 'hello', user_id: 'u1', node: 'n1', heartbeat_s });
    }
    recv(frame) {
      if (this.onmessage) this.onmessage({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
    }
    drop(code = 1006, reason = '') {
      this.readyState = 3;
      if (this.onclose) this.onclose({ code, reason });
    }
    frames(type) { return this.sent.filter((f) => f.type === type); }
    token() { return new URL(this.url).searchParams.get('access_token'); }
  }
  const server = {
    WebSocket: FakeWS,
    sockets,
    get last() { return sockets[sockets.length - 1]; },
    /** Resolves when pred() is true; fails after ms (every wait is bounded). */
    async until(pred, ms = 3000, what = 'condition') {
      const end = Date.now() + ms;
      for (;;) {
        const v = pred();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => { waiters.push(r); setTimeout(r, 5); });
      }
    },
    /** Waits for the n-th socket (1-based). */
    socket(n, ms = 3000) { return server.until(() => sockets[n - 1], ms, `socket ${n}`); },
  };
  return server;
}

export function msg(room, seq, extra = {}) {
  return {
    id: `m-${room}-${seq}`, room_id: room, seq, from: 'u2', body: `b${seq}`,
    client_msg_id: `c-${room}-${seq}`, created_at: '2024-05-01T12:00:00.000Z', kind: 'text', ...extra,
  };
}
