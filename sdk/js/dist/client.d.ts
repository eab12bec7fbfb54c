import { type BackoffOptions } from './backoff.js';
import type { AnyEvent, ChangeInput, ErrorFrame, EventMap, HelloFrame, Message, SendInput, SendOptions, SyncedFrame } from './types.js';
/** Where the connection is. `open` means the server said hello. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
/** The close status of a socket whose session was revoked (docs/protocol.md §9). */
export declare const CLOSE_REVOKED = 4001;
/** What the token callback is told before each connection attempt. */
export interface TokenContext {
    /** 0 for the first attempt after a success (or the start), then 1, 2 ... */
    attempt: number;
    /**
     * The last socket was refused or dropped before its hello, or the server
     * answered `unauthenticated`: the token may have expired, get a fresh one.
     */
    refresh: boolean;
}
/** The part of the standard WebSocket that the client uses (browsers, Node 22+, `node --experimental-websocket`). */
export interface WebSocketLike {
    readonly readyState: number;
    onopen: ((ev: unknown) => void) | null;
    onmessage: ((ev: {
        data: unknown;
    }) => void) | null;
    onclose: ((ev: {
        code: number;
        reason: string;
    }) => void) | null;
    onerror: ((ev: unknown) => void) | null;
    send(data: string): void;
    close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;
export interface ClientOptions {
    /**
     * The WebSocket endpoint, `wss://host/ws`; several gateways: any of them
     * (the client starts at a random one and moves to the next after a failure).
     */
    url: string | readonly string[];
    /**
     * The access token, or a function giving one before each connection
     * attempt (refresh it there when `ctx.refresh`). A function that throws an
     * error whose `code` is `unauthenticated` (or `status` 401) closes the
     * client; any other error is retried with back-off.
     */
    token: string | ((ctx: TokenContext) => string | Promise<string>);
    /** The WebSocket class; default: the global `WebSocket`. */
    WebSocket?: WebSocketConstructor;
    /** Reconnection back-off; default 500 ms doubling up to 10 s, with jitter. */
    reconnect?: BackoffOptions;
    /** Back-off of a send answered `unavailable`, `internal` or `rate_limited`; default 200 ms doubling up to 5 s. */
    retry?: BackoffOptions;
    /**
     * A connection that owes a send its answer and reads nothing for twice
     * this is dropped and reconnected (the send goes again, same
     * client_msg_id). On a connection that keeps reading (a busy gateway
     * answers a connection's frames in order) a send waits up to six times
     * this for its answer before it is written again; default 10 s.
     */
    ackTimeoutMs?: number;
    /** A connection silent this long after a ping is dropped and reconnected; default 8 s. */
    pongTimeoutMs?: number;
    /** A connection without hello after this long is dropped and tried again; default 15 s. */
    connectTimeoutMs?: number;
    /** At most this many sends wait for their ack; more are refused (`queue_full`); default 1000. */
    maxPending?: number;
    /**
     * At most this many sends on the wire without an answer; the rest wait
     * in order. After a send is refused (`unavailable`, `rate_limited`) the
     * client sends nothing for the retry time, then one send, and doubles
     * this with every ack up to the option (docs/protocol.md §6); default 32.
     */
    maxInFlight?: number;
    /**
     * A message of a room the client does not track starts tracking it from
     * cursor 0 (so a sync fetches what came before it); default true. With
     * false such messages are passed on without dedupe, and the application
     * calls `track`.
     */
    trackUnknownRooms?: boolean;
    /** Prefix of the client_msg_ids the client makes; default `js`. */
    clientIdPrefix?: string;
    /** Rooms to track from the start: `{room_id: last seq seen}`. */
    cursors?: Record<string, number>;
    /** For tests: the random source of the jitter. */
    random?: () => number;
}
/** The client's events and their arguments. */
export interface ClientEvents {
    /** The connection state changed. */
    state: [state: ConnectionState];
    /** The server said hello (after every (re)connect); the sync is under way. */
    open: [hello: HelloFrame];
    /** A socket ended; the client reconnects unless closed or revoked. */
    close: [info: {
        code: number;
        reason: string;
        hadHello: boolean;
    }];
    /**
     * A message not seen before (live, from a sync, or the ack of a send),
     * once per room and seq, and in seq order within a tracked room: one that
     * comes beyond a gap waits until the sync fills the gap or passes it as a
     * hole.
     */
    message: [message: Message, info: {
        ack: boolean;
    }];
    /** A room's sync answer ended (`more` rooms are asked again by the client). */
    synced: [frame: SyncedFrame];
    /** Any `event` frame; `onEvent` gives typed ones. */
    event: [event: AnyEvent];
    /** An `error` frame that answers no send of this client (a room's sync, a read, ...). */
    error: [frame: ErrorFrame];
    /** The session was revoked (close 4001): the client stopped for good; log in again. */
    revoked: [reason: string];
    /** Every frame received, as decoded, before the client handles it. */
    frame: [frame: {
        type: string;
        [k: string]: unknown;
    }];
}
type Listener<K extends keyof ClientEvents> = (...args: ClientEvents[K]) => void;
/** A fresh client_msg_id: prefix, time and randomness (printable ASCII, at most 64 characters). */
export declare function newClientMsgID(prefix?: string): string;
export declare class Client {
    private readonly o;
    private tokenSource;
    private readonly listeners;
    private readonly rooms;
    private readonly pending;
    private onWire;
    private sendLimit;
    private pauseUntil;
    private pumpTimer;
    private ws;
    private ready;
    private stopped;
    private st;
    private attempt;
    private urlIndex;
    private gen;
    private timer;
    private heartbeat;
    private pongTimer;
    private helloTimer;
    private syncAllTimer;
    private heartbeatMs;
    private lastRecv;
    private lastSent;
    private nextDelay;
    private needRefresh;
    private helloFrame;
    constructor(options: ClientOptions);
    /** Listens to one of the client's events; returns the function that stops listening. */
    on<K extends keyof ClientEvents>(name: K, fn: Listener<K>): () => void;
    /** Listens to one server event by name, with its typed data. */
    onEvent<K extends keyof EventMap>(name: K, fn: (data: EventMap[K]) => void): () => void;
    private emit;
    /** The connection state. */
    get state(): ConnectionState;
    /** Whether the server said hello on the current connection (frames can be sent). */
    get isOpen(): boolean;
    /** The last hello (user id, node, heartbeat), or null before the first. */
    get hello(): HelloFrame | null;
    /** Starts connecting (and keeps reconnecting until `close`). Calling it again does nothing. */
    connect(): void;
    /** Closes for good: no reconnection; waiting sends are rejected with `closed`. */
    close(): void;
    /** Reconnects now instead of waiting for the back-off (e.g. when the network comes back). */
    reconnectNow(): void;
    /**
     * Replaces the access token: used by the next connection, and sent at once
     * on an open one (`refresh` frame). Returns whether the frame was sent.
     */
    refresh(token: string): boolean;
    private setState;
    private dial;
    /** The socket ended (closed, failed, or given up on): reconnect unless closed or revoked. */
    private lost;
    private nextURL;
    private retryLater;
    private teardown;
    /** Sends one frame on the open connection; returns whether it was sent. */
    sendFrame(frame: {
        type: string;
        [k: string]: unknown;
    }): boolean;
    private startHeartbeat;
    private receive;
    private deliver;
    private askGap;
    /** Moves the cursor to m and passes it on. */
    private pass;
    /** Passes on the held run that follows the cursor. */
    private drain;
    private onSynced;
    private onError;
    private newRoom;
    /**
     * Tracks a room from `cursor` (the last seq the application has, or 0 for
     * the whole history): it is synced now (when open) and after every
     * reconnect. An already tracked room's cursor only rises.
     */
    track(roomId: string, cursor?: number): void;
    /** Stops tracking a room (left, removed, no longer a friend). */
    untrack(roomId: string): void;
    /** The room's cursor (everything up to it was passed on or skipped as a hole), or undefined when untracked. */
    cursor(roomId: string): number | undefined;
    /** Every tracked room's cursor, to keep for the next start (`options.cursors`). */
    cursors(): Record<string, number>;
    /**
     * Sends `sync` for these tracked rooms (all when omitted) from their
     * cursors, in frames of at most 1000 rooms; returns whether it was sent
     * (after the next hello it is anyway).
     */
    syncRooms(roomIds?: readonly string[]): boolean;
    /**
     * Sends a message and resolves to the stored message (its ack). It is
     * sent again with the same client_msg_id after `unavailable`, `internal`
     * or `rate_limited` (with back-off), when no answer came in time, and
     * after a reconnect, so it is stored exactly once; it rejects with an
     * `IMError` on any other error code, on `close()`, `signal` or `timeoutMs`.
     */
    send(roomId: string, input: string | SendInput, options?: SendOptions): Promise<Message>;
    /** Sends a change (`edit`, `recall`, `react`, `unreact`) like `send`: resolves to the stored change event. */
    change(input: ChangeInput, options?: SendOptions): Promise<Message>;
    /** The client_msg_ids of the sends and changes waiting for their ack. */
    pendingIds(): string[];
    /** Stops retrying one waiting send (it rejects with `aborted`); it may still have been stored. */
    cancel(clientMsgId: string): boolean;
    private request;
    /** Writes the waiting sends, oldest first, as far as the window lets. */
    private pump;
    private resend;
    private offWire;
    private finish;
    /** Marks the room read up to seq; returns whether the frame was sent. */
    read(roomId: string, seq: number): boolean;
    /** Tells the room's other members that the user is typing (or stopped). */
    typing(roomId: string, on: boolean): boolean;
    /** Hides messages for the user (1-100 seqs); the answer is a `messages_hidden` event. */
    hide(roomId: string, seqs: number[]): boolean;
}
export {};
