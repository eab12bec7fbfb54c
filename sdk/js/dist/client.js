// The WebSocket client: one connection to any gateway node, reconnected with
// back-off and jitter; after every hello it syncs each room it tracks from
// its cursor (docs/protocol.md §6), dedupes messages by seq, and sends with
// a client_msg_id that it repeats until the ack (retries cannot duplicate).
import { backoffDelay } from './backoff.js';
import { IMError, RETRYABLE_CODES } from './errors.js';
/** The close status of a socket whose session was revoked (docs/protocol.md §9). */
export const CLOSE_REVOKED = 4001;
const OPEN = 1; // WebSocket.OPEN
const PATIENCE = 6; // ack timeouts a send waits on a connection that keeps reading before it is written again
const MAX_SYNC_ROOMS = 1000;
const MAX_AHEAD = 10000; // messages held beyond a gap per room; past it they are dropped and synced again
const GAP_WAIT_MS = 1000; // an ack beyond a gap (others' live frames are likely on the way) waits this long before a sync
let counter = 0;
/** A fresh client_msg_id: prefix, time and randomness (printable ASCII, at most 64 characters). */
export function newClientMsgID(prefix = 'js') {
    const c = globalThis.crypto;
    const rnd = c && typeof c.randomUUID === 'function'
        ? c.randomUUID().replace(/-/g, '').slice(0, 16)
        : Math.random().toString(36).slice(2, 12) + Math.random().toString(36).slice(2, 8);
    counter = (counter + 1) % 1e6;
    return `${prefix.slice(0, 24)}-${Date.now().toString(36)}-${rnd}-${counter.toString(36)}`;
}
export class Client {
    constructor(options) {
        this.listeners = new Map();
        this.rooms = new Map();
        this.pending = new Map();
        // The send window (pump): sends on the wire, how many may be, and no
        // send before pauseUntil (after a refusal).
        this.onWire = 0;
        this.sendLimit = 1;
        this.pauseUntil = 0;
        this.ws = null;
        this.ready = false;
        this.stopped = true;
        this.st = 'idle';
        this.attempt = 0;
        this.gen = 0;
        this.heartbeatMs = 30000;
        this.lastRecv = 0;
        this.lastSent = 0;
        this.nextDelay = null;
        this.needRefresh = false;
        this.helloFrame = null;
        const urls = typeof options.url === 'string' ? [options.url] : [...options.url];
        if (urls.length === 0 || urls.some((u) => typeof u !== 'string' || !/^wss?:\/\//.test(u))) {
            throw new IMError('invalid_argument', 'url: one or more ws:// or wss:// URLs');
        }
        if (options.token === undefined || options.token === null || options.token === '') {
            throw new IMError('invalid_argument', 'token: an access token or a function returning one');
        }
        const random = options.random ?? Math.random;
        this.o = {
            urls,
            WS: options.WebSocket ?? globalThis.WebSocket,
            reconnect: { initialMs: options.reconnect?.initialMs ?? 500, maxMs: options.reconnect?.maxMs ?? 10000 },
            retry: { initialMs: options.retry?.initialMs ?? 200, maxMs: options.retry?.maxMs ?? 5000 },
            ackTimeoutMs: options.ackTimeoutMs ?? 10000,
            pongTimeoutMs: options.pongTimeoutMs ?? 8000,
            connectTimeoutMs: options.connectTimeoutMs ?? 15000,
            maxPending: options.maxPending ?? 1000,
            maxInFlight: Math.max(1, Math.floor(options.maxInFlight ?? 32)),
            trackUnknown: options.trackUnknownRooms ?? true,
            prefix: options.clientIdPrefix ?? 'js',
            random,
        };
        if (!this.o.WS) {
            throw new IMError('invalid_argument', 'no WebSocket: pass options.WebSocket (Node 20: run with --experimental-websocket)');
        }
        this.tokenSource = options.token;
        this.urlIndex = Math.floor(random() * urls.length) % urls.length;
        this.sendLimit = this.o.maxInFlight;
        for (const [room, seq] of Object.entries(options.cursors ?? {}))
            this.track(room, seq);
    }
    // ------------------------------------------------------------ listeners
    /** Listens to one of the client's events; returns the function that stops listening. */
    on(name, fn) {
        let set = this.listeners.get(name);
        if (!set) {
            set = new Set();
            this.listeners.set(name, set);
        }
        set.add(fn);
        return () => { set.delete(fn); };
    }
    /** Listens to one server event by name, with its typed data. */
    onEvent(name, fn) {
        return this.on('event', (e) => { if (e.event === name)
            fn(e.data); });
    }
    emit(name, ...args) {
        const set = this.listeners.get(name);
        if (!set)
            return;
        for (const fn of [...set]) {
            try {
                fn(...args);
            }
            catch (e) {
                // A listener's bug must not break the connection's state machine.
                setTimeout(() => { throw e; }, 0);
            }
        }
    }
    // ----------------------------------------------------------- connection
    /** The connection state. */
    get state() { return this.st; }
    /** Whether the server said hello on the current connection (frames can be sent). */
    get isOpen() { return this.ready; }
    /** The last hello (user id, node, heartbeat), or null before the first. */
    get hello() { return this.helloFrame; }
    /** Starts connecting (and keeps reconnecting until `close`). Calling it again does nothing. */
    connect() {
        if (!this.stopped)
            return;
        this.stopped = false;
        this.attempt = 0;
        void this.dial();
    }
    /** Closes for good: no reconnection; waiting sends are rejected with `closed`. */
    close() {
        this.stopped = true;
        this.gen++;
        clearTimeout(this.timer);
        this.teardown();
        for (const p of [...this.pending.values()])
            this.finish(p, new IMError('closed', 'the client was closed'));
        this.setState('closed');
    }
    /** Reconnects now instead of waiting for the back-off (e.g. when the network comes back). */
    reconnectNow() {
        if (this.stopped || this.ws)
            return;
        clearTimeout(this.timer);
        this.attempt = 0;
        void this.dial();
    }
    /**
     * Replaces the access token: used by the next connection, and sent at once
     * on an open one (`refresh` frame). Returns whether the frame was sent.
     */
    refresh(token) {
        if (typeof this.tokenSource === 'string')
            this.tokenSource = token;
        return this.sendFrame({ type: 'refresh', access_token: token });
    }
    setState(s) {
        if (this.st === s)
            return;
        this.st = s;
        this.emit('state', s);
    }
    async dial() {
        clearTimeout(this.timer);
        if (this.stopped || this.ws)
            return;
        const gen = ++this.gen;
        const attempt = this.attempt;
        this.setState(attempt === 0 ? 'connecting' : 'reconnecting');
        let token;
        try {
            const src = this.tokenSource;
            token = typeof src === 'function' ? await src({ attempt, refresh: this.needRefresh }) : src;
            this.needRefresh = false;
        }
        catch (e) {
            if (gen !== this.gen)
                return;
            const err = e;
            if (err && (err.code === 'unauthenticated' || err.status === 401)) {
                this.close();
                return;
            }
            this.retryLater();
            return;
        }
        if (gen !== this.gen || this.stopped || this.ws)
            return;
        if (typeof token !== 'string' || token === '') {
            this.retryLater();
            return;
        }
        const base = this.o.urls[this.urlIndex % this.o.urls.length];
        const url = base + (base.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(token);
        let ws;
        try {
            ws = new this.o.WS(url);
        }
        catch {
            this.nextURL();
            this.retryLater();
            return;
        }
        this.ws = ws;
        this.ready = false;
        ws.onmessage = (ev) => { if (this.ws === ws)
            this.receive(ev.data); };
        // Browsers follow an error with a close; Node 20's WebSocket does not
        // after a refused handshake (it stays CONNECTING): end it ourselves.
        ws.onerror = () => { setTimeout(() => this.lost(ws, 1006, 'connection failed'), 1000); };
        ws.onclose = (ev) => this.lost(ws, Number(ev && ev.code) || 1006, String((ev && ev.reason) || ''));
        // No hello in time (a hung upgrade, a node that never answers): try again.
        this.helloTimer = setTimeout(() => { if (!this.ready)
            this.lost(ws, 1006, 'no hello'); }, this.o.connectTimeoutMs);
    }
    /** The socket ended (closed, failed, or given up on): reconnect unless closed or revoked. */
    lost(ws, code, reason) {
        if (this.ws !== ws)
            return;
        const hadHello = this.ready;
        this.teardown();
        this.emit('close', { code, reason, hadHello });
        if (code === CLOSE_REVOKED) {
            this.close();
            this.emit('revoked', reason);
            return;
        }
        if (this.stopped)
            return;
        if (!hadHello) {
            // Refused or dropped before hello: maybe the token, maybe this node.
            this.needRefresh = true;
            this.nextURL();
        }
        this.retryLater();
    }
    nextURL() {
        this.urlIndex = (this.urlIndex + 1) % this.o.urls.length;
    }
    retryLater() {
        if (this.stopped)
            return;
        this.setState('reconnecting');
        let delay;
        if (this.nextDelay !== null) {
            delay = this.nextDelay;
            this.nextDelay = null;
        }
        else {
            delay = backoffDelay(this.attempt, this.o.reconnect, this.o.random);
        }
        this.attempt++;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => { void this.dial(); }, delay);
    }
    teardown() {
        clearInterval(this.heartbeat);
        clearTimeout(this.pongTimer);
        clearTimeout(this.helloTimer);
        clearTimeout(this.syncAllTimer);
        clearTimeout(this.pumpTimer);
        this.pumpTimer = undefined;
        for (const p of this.pending.values()) {
            clearTimeout(p.timer);
            p.timer = undefined;
            p.wire = false;
        }
        this.onWire = 0;
        for (const r of this.rooms.values()) {
            clearTimeout(r.retryTimer);
            clearTimeout(r.gapTimer);
            r.retryTimer = r.gapTimer = undefined;
        }
        const ws = this.ws;
        this.ws = null;
        this.ready = false;
        if (ws) {
            ws.onmessage = null;
            ws.onclose = null;
            ws.onerror = null;
            try {
                ws.close(1000);
            }
            catch { /* closed already */ }
        }
    }
    /** Sends one frame on the open connection; returns whether it was sent. */
    sendFrame(frame) {
        const ws = this.ws;
        if (!ws || !this.ready || ws.readyState !== OPEN)
            return false;
        try {
            ws.send(JSON.stringify(frame));
        }
        catch {
            return false;
        }
        this.lastSent = Date.now();
        return true;
    }
    startHeartbeat() {
        clearInterval(this.heartbeat);
        // Ping when nothing was sent for a heartbeat interval; a connection
        // silent for pongTimeoutMs after a ping is dead.
        const tick = Math.min(this.heartbeatMs, 5000);
        this.heartbeat = setInterval(() => {
            if (!this.ready || Date.now() - this.lastSent < this.heartbeatMs - tick / 2)
                return;
            const sentAt = Date.now();
            if (!this.sendFrame({ type: 'ping' }))
                return;
            clearTimeout(this.pongTimer);
            this.pongTimer = setTimeout(() => {
                if (this.lastRecv < sentAt && this.ws)
                    this.lost(this.ws, 1006, 'no answer to ping');
            }, this.o.pongTimeoutMs);
        }, tick);
    }
    // ------------------------------------------------------------- receiving
    receive(data) {
        this.lastRecv = Date.now();
        if (typeof data !== 'string')
            return;
        let f;
        try {
            f = JSON.parse(data);
        }
        catch {
            return;
        }
        if (!f || typeof f !== 'object' || typeof f.type !== 'string')
            return;
        this.emit('frame', f);
        switch (f.type) {
            case 'hello': {
                const h = f;
                this.ready = true;
                this.attempt = 0;
                this.helloFrame = h;
                this.heartbeatMs = Math.max(5, Number(h.heartbeat_s) || 30) * 1000;
                this.startHeartbeat();
                this.setState('open');
                this.emit('open', h);
                if (!this.ready)
                    return; // a listener closed it
                this.syncRooms();
                this.pump();
                return;
            }
            case 'pong':
                return;
            case 'reconnect':
                // The node is going away (close 1001 follows): come back soon, at a random time.
                this.nextDelay = this.o.random() * 2000;
                return;
            case 'message': {
                const m = f.message;
                if (isMessage(m))
                    this.deliver(m, false);
                return;
            }
            case 'ack': {
                const m = f.message;
                const id = String(f.client_msg_id ?? '');
                if (isMessage(m))
                    this.deliver(m, true);
                const p = this.pending.get(id);
                if (p && isMessage(m))
                    this.finish(p, null, m);
                return;
            }
            case 'synced':
                this.onSynced(f);
                return;
            case 'event': {
                const name = String(f.event ?? '');
                const d = (f.data && typeof f.data === 'object' ? f.data : {});
                if (name === 'resync') {
                    const room = typeof d.room_id === 'string' ? d.room_id : '';
                    if (room) {
                        if (this.rooms.has(room))
                            this.syncRooms([room]);
                    }
                    else
                        this.syncRooms();
                }
                this.emit('event', { event: name, data: d });
                return;
            }
            case 'error':
                this.onError(f);
                return;
            default: // frames of later versions
        }
    }
    deliver(m, ack) {
        let r = this.rooms.get(m.room_id);
        if (!r) {
            if (!this.o.trackUnknown) {
                this.emit('message', m, { ack });
                return;
            }
            r = this.newRoom(0);
            this.rooms.set(m.room_id, r);
        }
        if (m.seq <= r.cursor || r.ahead.has(m.seq))
            return; // dedupe by seq
        if (m.seq === r.cursor + 1) {
            this.pass(r, m, ack);
            this.drain(r);
            return;
        }
        // Beyond a gap (a live frame lost, the live stream ahead of a sync after
        // a reconnect, or a room just tracked): hold it, and sync from the
        // cursor once until the cursor passes the seq that asked. The sync
        // fills the gap or passes it as a hole (onSynced).
        if (r.ahead.size >= MAX_AHEAD)
            r.ahead.clear(); // the sync brings them again
        r.ahead.set(m.seq, { m, ack });
        if (r.gapAsked > r.cursor)
            return;
        if (!ack) {
            this.askGap(m.room_id, r);
        }
        else if (r.gapTimer === undefined) {
            // Our own ack often overtakes the live frames of what others sent
            // just before: give them a moment before asking the server.
            const room = m.room_id;
            r.gapTimer = setTimeout(() => {
                const cur = this.rooms.get(room);
                if (!cur)
                    return;
                cur.gapTimer = undefined;
                if (cur.ahead.size > 0 && cur.gapAsked <= cur.cursor)
                    this.askGap(room, cur);
            }, GAP_WAIT_MS);
        }
    }
    askGap(room, r) {
        r.gapAsked = Math.max(...r.ahead.keys());
        this.syncRooms([room]);
    }
    /** Moves the cursor to m and passes it on. */
    pass(r, m, ack) {
        r.cursor = m.seq;
        this.emit('message', m, { ack });
    }
    /** Passes on the held run that follows the cursor. */
    drain(r) {
        for (let h = r.ahead.get(r.cursor + 1); h; h = r.ahead.get(r.cursor + 1)) {
            r.ahead.delete(h.m.seq);
            this.pass(r, h.m, h.ack);
        }
    }
    onSynced(f) {
        const r = this.rooms.get(f.room_id);
        if (r) {
            r.retries = 0;
            // Everything up to last_seq was sent before this frame: what is still
            // missing up to there is a hole (or hidden), so the held messages up
            // to there are passed on in order across it.
            const last = Number(f.last_seq) || 0;
            const below = [...r.ahead.keys()].filter((s) => s <= last).sort((a, b) => a - b);
            for (const s of below) {
                const h = r.ahead.get(s);
                r.ahead.delete(s);
                if (s > r.cursor)
                    this.pass(r, h.m, h.ack);
            }
            if (last > r.cursor)
                r.cursor = last;
            this.drain(r);
            if (f.more)
                this.syncRooms([f.room_id]);
            else if (r.ahead.size > 0)
                this.askGap(f.room_id, r); // held beyond what this sync covered
        }
        this.emit('synced', f);
    }
    onError(f) {
        if (f.client_msg_id) {
            const p = this.pending.get(f.client_msg_id);
            if (p) {
                if (RETRYABLE_CODES.includes(f.code)) {
                    // Nothing was stored: send again, same client_msg_id, after a
                    // back-off. The refusal is about the connection: nothing goes
                    // out until then, and then one send at a time until acks come.
                    this.offWire(p);
                    const wait = Math.max(backoffDelay(p.tries, this.o.retry, this.o.random), Number(f.retry_after_ms) || 0);
                    p.tries++;
                    this.sendLimit = 1;
                    this.pauseUntil = Math.max(this.pauseUntil, Date.now() + wait);
                    this.pump();
                }
                else {
                    this.finish(p, new IMError(f.code, f.message, 0, f.retry_after_ms));
                }
                return;
            }
        }
        else if (f.room_id) {
            const r = this.rooms.get(f.room_id);
            if (r && (f.code === 'forbidden' || f.code === 'not_found')) {
                this.untrack(f.room_id); // not a member (any more)
            }
            else if (r && RETRYABLE_CODES.includes(f.code)) {
                // A sync (or read) shed under load: ask the room again later.
                clearTimeout(r.retryTimer);
                const wait = Math.max(backoffDelay(r.retries, this.o.retry, this.o.random), Number(f.retry_after_ms) || 0);
                r.retries++;
                r.retryTimer = setTimeout(() => this.syncRooms([f.room_id]), wait);
            }
        }
        else if (f.code === 'rate_limited') {
            // A sync frame over the rate: sync everything again a second later.
            clearTimeout(this.syncAllTimer);
            this.syncAllTimer = setTimeout(() => this.syncRooms(), Math.max(1000, Number(f.retry_after_ms) || 0));
        }
        else if (f.code === 'unauthenticated') {
            this.needRefresh = true; // the token expired or a refresh failed
        }
        this.emit('error', f);
    }
    // ----------------------------------------------------------------- rooms
    newRoom(cursor) {
        return { cursor, ahead: new Map(), gapAsked: 0, gapTimer: undefined, retries: 0, retryTimer: undefined };
    }
    /**
     * Tracks a room from `cursor` (the last seq the application has, or 0 for
     * the whole history): it is synced now (when open) and after every
     * reconnect. An already tracked room's cursor only rises.
     */
    track(roomId, cursor = 0) {
        if (typeof roomId !== 'string' || roomId === '')
            throw new IMError('invalid_argument', 'track: a room id');
        const c = Math.max(0, Math.floor(Number(cursor) || 0));
        const r = this.rooms.get(roomId);
        if (r) {
            if (c > r.cursor) {
                r.cursor = c;
                for (const s of r.ahead.keys())
                    if (s <= c)
                        r.ahead.delete(s);
                this.drain(r);
            }
            return;
        }
        this.rooms.set(roomId, this.newRoom(c));
        this.syncRooms([roomId]);
    }
    /** Stops tracking a room (left, removed, no longer a friend). */
    untrack(roomId) {
        const r = this.rooms.get(roomId);
        if (r) {
            clearTimeout(r.retryTimer);
            clearTimeout(r.gapTimer);
        }
        this.rooms.delete(roomId);
    }
    /** The room's cursor (everything up to it was passed on or skipped as a hole), or undefined when untracked. */
    cursor(roomId) {
        return this.rooms.get(roomId)?.cursor;
    }
    /** Every tracked room's cursor, to keep for the next start (`options.cursors`). */
    cursors() {
        const out = {};
        for (const [id, r] of this.rooms)
            out[id] = r.cursor;
        return out;
    }
    /**
     * Sends `sync` for these tracked rooms (all when omitted) from their
     * cursors, in frames of at most 1000 rooms; returns whether it was sent
     * (after the next hello it is anyway).
     */
    syncRooms(roomIds) {
        if (!this.ready)
            return false;
        const ids = (roomIds ?? [...this.rooms.keys()]).filter((id) => this.rooms.has(id));
        let ok = true;
        for (let i = 0; i < ids.length; i += MAX_SYNC_ROOMS) {
            const rooms = {};
            for (const id of ids.slice(i, i + MAX_SYNC_ROOMS))
                rooms[id] = this.rooms.get(id).cursor;
            ok = this.sendFrame({ type: 'sync', rooms }) && ok;
        }
        return ok;
    }
    // --------------------------------------------------------------- sending
    /**
     * Sends a message and resolves to the stored message (its ack). It is
     * sent again with the same client_msg_id after `unavailable`, `internal`
     * or `rate_limited` (with back-off), when no answer came in time, and
     * after a reconnect, so it is stored exactly once; it rejects with an
     * `IMError` on any other error code, on `close()`, `signal` or `timeoutMs`.
     */
    send(roomId, input, options = {}) {
        const msg = typeof input === 'string' ? { body: input } : { ...input };
        const frame = { type: 'send', room_id: roomId };
        for (const k of ['body', 'kind', 'reply_to', 'mentions', 'file_id', 'data']) {
            if (msg[k] !== undefined)
                frame[k] = msg[k];
        }
        return this.request(frame, msg.client_msg_id, options);
    }
    /** Sends a change (`edit`, `recall`, `react`, `unreact`) like `send`: resolves to the stored change event. */
    change(input, options = {}) {
        const { client_msg_id: id, ...frame } = input;
        return this.request(frame, id, options);
    }
    /** The client_msg_ids of the sends and changes waiting for their ack. */
    pendingIds() {
        return [...this.pending.keys()];
    }
    /** Stops retrying one waiting send (it rejects with `aborted`); it may still have been stored. */
    cancel(clientMsgId) {
        const p = this.pending.get(clientMsgId);
        if (!p)
            return false;
        this.finish(p, new IMError('aborted', 'the send was canceled'));
        return true;
    }
    request(frame, id, o) {
        const cmid = id ?? newClientMsgID(this.o.prefix);
        return new Promise((resolve, reject) => {
            if (this.stopped && this.st === 'closed') {
                reject(new IMError('closed', 'the client was closed'));
                return;
            }
            if (o.signal?.aborted) {
                reject(new IMError('aborted', 'the send was aborted'));
                return;
            }
            const old = this.pending.get(cmid);
            if (old) {
                // The same message again: one ack answers both.
                const prev = { resolve: old.resolve, reject: old.reject };
                old.resolve = (m) => { prev.resolve(m); resolve(m); };
                old.reject = (e) => { prev.reject(e); reject(e); };
                return;
            }
            if (this.pending.size >= this.o.maxPending) {
                reject(new IMError('queue_full', `${this.o.maxPending} sends are waiting for their ack already`));
                return;
            }
            const p = {
                id: cmid, frame: { ...frame, client_msg_id: cmid }, resolve, reject, tries: 0, wire: false, sentAt: 0,
                timer: undefined, deadline: undefined, unlisten: undefined,
            };
            this.pending.set(cmid, p);
            if (o.timeoutMs !== undefined && o.timeoutMs > 0) {
                p.deadline = setTimeout(() => this.finish(p, new IMError('timeout', `no ack within ${o.timeoutMs} ms`)), o.timeoutMs);
            }
            if (o.signal) {
                const sig = o.signal;
                const abort = () => this.finish(p, new IMError('aborted', 'the send was aborted'));
                sig.addEventListener('abort', abort, { once: true });
                p.unlisten = () => sig.removeEventListener('abort', abort);
            }
            this.pump();
        });
    }
    /** Writes the waiting sends, oldest first, as far as the window lets. */
    pump() {
        if (!this.ready)
            return;
        const now = Date.now();
        if (now < this.pauseUntil) {
            if (this.pumpTimer === undefined) {
                this.pumpTimer = setTimeout(() => { this.pumpTimer = undefined; this.pump(); }, this.pauseUntil - now);
            }
            return;
        }
        for (const p of this.pending.values()) {
            if (this.onWire >= this.sendLimit)
                return;
            if (p.wire)
                continue;
            if (!this.sendFrame(p.frame))
                return; // sent after the next hello
            p.wire = true;
            p.sentAt = now;
            this.onWire++;
            p.timer = setTimeout(() => this.resend(p), this.o.ackTimeoutMs);
        }
    }
    // No answer in time. A node answers a connection's frames in order, so
    // while anything keeps coming (the answers to earlier frames) the send is
    // only queued behind a busy node: it keeps its place, up to PATIENCE
    // timeouts, and is then written again (same id: a repeat gets the same
    // ack). A connection that read nothing for two timeouts since the send
    // was written (one store operation alone may take a gateway's 10 s
    // operation timeout) is dead or stuck: it is replaced, and the send goes
    // again after the next hello.
    resend(p) {
        p.timer = undefined;
        if (this.pending.get(p.id) !== p || !p.wire)
            return;
        const now = Date.now();
        const quiet = now - Math.max(this.lastRecv, p.sentAt);
        const stall = 2 * this.o.ackTimeoutMs;
        if (quiet >= stall) {
            if (this.ws)
                this.lost(this.ws, 1006, 'no answer');
            return;
        }
        const waited = now - p.sentAt;
        if (waited < PATIENCE * this.o.ackTimeoutMs) {
            p.timer = setTimeout(() => this.resend(p), Math.min(stall - quiet, PATIENCE * this.o.ackTimeoutMs - waited));
            return;
        }
        if (this.sendFrame(p.frame)) {
            p.sentAt = now;
            p.timer = setTimeout(() => this.resend(p), this.o.ackTimeoutMs);
        }
    }
    offWire(p) {
        clearTimeout(p.timer);
        p.timer = undefined;
        if (p.wire) {
            p.wire = false;
            this.onWire--;
        }
    }
    finish(p, err, m) {
        if (this.pending.get(p.id) !== p)
            return;
        this.pending.delete(p.id);
        const answered = p.wire;
        this.offWire(p);
        clearTimeout(p.deadline);
        if (p.unlisten)
            p.unlisten();
        if (answered && !err)
            this.sendLimit = Math.min(this.o.maxInFlight, this.sendLimit * 2);
        if (err)
            p.reject(err);
        else
            p.resolve(m);
        this.pump();
    }
    // --------------------------------------------------- other client frames
    /** Marks the room read up to seq; returns whether the frame was sent. */
    read(roomId, seq) {
        return this.sendFrame({ type: 'read', room_id: roomId, seq });
    }
    /** Tells the room's other members that the user is typing (or stopped). */
    typing(roomId, on) {
        return this.sendFrame({ type: 'typing', room_id: roomId, on });
    }
    /** Hides messages for the user (1-100 seqs); the answer is a `messages_hidden` event. */
    hide(roomId, seqs) {
        return this.sendFrame({ type: 'hide', room_id: roomId, seqs });
    }
}
function isMessage(m) {
    if (!m || typeof m !== 'object')
        return false;
    const x = m;
    return typeof x.room_id === 'string' && typeof x.seq === 'number' && Number.isInteger(x.seq) && x.seq > 0;
}
