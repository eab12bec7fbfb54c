import type { Group, Message, User } from './types.js';
/** The answer of register, login and refresh. */
export interface AuthAnswer {
    user: User;
    access_token: string;
    refresh_token: string;
    expires_in: number;
    session_id?: string;
}
/** One entry of `GET /v1/conversations`. */
export interface Conversation {
    room_id: string;
    type: 'direct' | 'group';
    peer?: User;
    group?: Group;
    last_seq: number;
    read_seq: number;
    unread: number;
    mentioned?: boolean;
    last_message?: Message;
    [extra: string]: unknown;
}
export interface RestOptions {
    /** The API's origin: scheme, host and port, without `/v1`. */
    baseUrl: string;
    /** The access token, or a function giving one, for authenticated calls. */
    token?: string | (() => string | Promise<string>);
    /** The fetch function; default: the global `fetch`. */
    fetch?: typeof fetch;
    /** Each call gives up after this long (code `network`); default 30 s. */
    timeoutMs?: number;
}
export declare class Rest {
    private readonly base;
    private readonly fetchFn;
    private readonly timeoutMs;
    private token;
    constructor(o: RestOptions);
    /** Sets the access token used from now on. */
    setToken(token: string | (() => string | Promise<string>)): void;
    /**
     * Calls the API; resolves to the decoded JSON (null for 204) or rejects
     * with an `IMError` carrying the contract's code, the HTTP status and,
     * for `rate_limited`, `retryAfterMs`.
     */
    request<T = unknown>(method: string, path: string, body?: unknown, auth?: boolean): Promise<T>;
    emailCode(email: string): Promise<unknown>;
    register(b: {
        email: string;
        code: string;
        account: string;
        password: string;
        nickname: string;
        device?: string;
    }): Promise<AuthAnswer>;
    login(login: string, password: string, device?: string): Promise<AuthAnswer>;
    /** A new access token; the old refresh token stops working (use the answer's). */
    refresh(refreshToken: string): Promise<AuthAnswer>;
    logout(refreshToken: string): Promise<null>;
    me(): Promise<User>;
    /** The user's rooms with `last_seq`: start each room's cursor there (`Client.track`). */
    conversations(): Promise<Conversation[]>;
    /** A page of a room's history: before/after a seq, at most 100. */
    history(roomId: string, q?: {
        before?: number;
        after?: number;
        limit?: number;
    }): Promise<{
        messages: Message[];
        has_more: boolean;
    }>;
    /** Sends over REST: the same idempotency as the socket's `send` with the same client_msg_id. */
    sendMessage(roomId: string, body: string, clientMsgId: string): Promise<Message>;
    markRead(roomId: string, seq: number): Promise<null>;
}
