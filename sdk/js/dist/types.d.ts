/** A message, as in REST and in `message`, `ack` frames (docs/protocol.md §2). */
export interface Message {
    id: string;
    room_id: string;
    seq: number;
    /** The sender's user id. */
    from: string;
    body: string;
    client_msg_id: string;
    created_at: string;
    /** `text`, `image`, `file`, `custom`, `system`, or a change event: `edit`, `recall`, `react`, `unreact`. */
    kind?: MessageKind | string;
    reply_to?: number;
    reply?: {
        seq: number;
        from: string;
        kind: string;
        body: string;
        recalled?: boolean;
    };
    mentions?: string[];
    attachment?: Attachment;
    data?: Record<string, unknown>;
    /** Change events: the seq of the message changed. */
    target?: number;
    emoji?: string;
    edited_at?: string;
    recalled?: boolean;
    reactions?: {
        emoji: string;
        count: number;
        mine?: boolean;
    }[];
    [extra: string]: unknown;
}
export type MessageKind = 'text' | 'image' | 'file' | 'custom' | 'system' | 'edit' | 'recall' | 'react' | 'unreact';
/** The kinds that change another message (they are messages with their own seq). */
export declare const CHANGE_KINDS: readonly string[];
export interface Attachment {
    file_id: string;
    name: string;
    size: number;
    content_type: string;
    width?: number;
    height?: number;
    thumbnail?: boolean;
}
/** A public user (REST and events). */
export interface User {
    id: string;
    account: string;
    nickname: string;
    avatar: string;
    sex: number;
    created_at: string;
    deleted?: boolean;
    [extra: string]: unknown;
}
/** A group (REST and events); its `id` is its room id. */
export interface Group {
    id: string;
    number: string;
    name: string;
    info: string;
    owner: string;
    member_count: number;
    created_at: string;
    [extra: string]: unknown;
}
/** The contract's error codes (REST and `error` frames). */
export type ErrorCode = 'invalid_argument' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'payload_too_large' | 'rate_limited' | 'unavailable' | 'internal';
export interface HelloFrame {
    type: 'hello';
    user_id: string;
    node: string;
    heartbeat_s: number;
}
export interface AckFrame {
    type: 'ack';
    client_msg_id: string;
    message: Message;
}
export interface MessageFrame {
    type: 'message';
    message: Message;
}
export interface SyncedFrame {
    type: 'synced';
    room_id: string;
    last_seq: number;
    more: boolean;
}
export interface ErrorFrame {
    type: 'error';
    code: ErrorCode | string;
    message: string;
    client_msg_id?: string;
    room_id?: string;
    retry_after_ms?: number;
}
export interface PongFrame {
    type: 'pong';
}
export interface ReconnectFrame {
    type: 'reconnect';
    reason: string;
}
export interface EventFrame<K extends keyof EventMap = keyof EventMap> {
    type: 'event';
    event: K;
    data: EventMap[K];
}
/** Every frame the server sends in v1 (later versions may send more types: they are passed on untyped). */
export type ServerFrame = HelloFrame | AckFrame | MessageFrame | SyncedFrame | ErrorFrame | PongFrame | ReconnectFrame | EventFrame;
export interface FriendRequest {
    id: string;
    from: User;
    to: User;
    message: string;
    created_at: string;
}
/** The data of each `event` frame, by event name (docs/protocol.md §8). */
export interface EventMap {
    friend_request: {
        request: FriendRequest;
    };
    friend_added: {
        user: User;
        room_id: string;
        since: string;
    };
    friend_removed: {
        user_id: string;
        room_id: string;
    };
    group_joined: {
        group: Group;
    };
    group_left: {
        group_id: string;
        room_id: string;
        disbanded?: boolean;
    };
    group_updated: {
        group: Group;
    };
    group_admin: {
        group_id: string;
        room_id: string;
        action: string;
        by: string;
        users?: string[];
        [extra: string]: unknown;
    };
    resync: {
        reason?: string;
        room_id?: string;
    };
    messages_hidden: {
        room_id: string;
        seqs: number[];
    };
    read: {
        room_id: string;
        user_id: string;
        seq: number;
    };
    read_counts: {
        room_id: string;
        counts: {
            seq: number;
            read: number;
        }[];
    };
    presence: {
        user_id: string;
        online: boolean;
        last_seen?: string;
    };
    typing: {
        room_id: string;
        user_id: string;
        on: boolean;
        expires_ms?: number;
    };
    session_revoked: {
        session_ids?: string[];
        all?: boolean;
        reason: string;
    };
    join_request: Record<string, unknown>;
}
/** An event of any name, known or of a later version. */
export interface AnyEvent {
    event: string;
    data: Record<string, unknown>;
}
/** What `Client.send` sends besides `room_id` and `client_msg_id`. */
export interface SendInput {
    body?: string;
    kind?: 'text' | 'image' | 'file' | 'custom';
    reply_to?: number;
    mentions?: string[];
    file_id?: string;
    data?: Record<string, unknown>;
    /** The idempotency key; the client makes one when absent. */
    client_msg_id?: string;
}
/** A change to a message: `edit`, `recall`, `react` or `unreact`. */
export type ChangeInput = {
    type: 'edit';
    room_id: string;
    seq: number;
    body: string;
    client_msg_id?: string;
} | {
    type: 'recall';
    room_id: string;
    seq: number;
    client_msg_id?: string;
} | {
    type: 'react' | 'unreact';
    room_id: string;
    seq: number;
    emoji: string;
    client_msg_id?: string;
};
/** Per-call options of `send` and `change`. */
export interface SendOptions {
    /** Stops retrying and rejects with code `aborted`. */
    signal?: AbortSignal;
    /** Gives up (code `timeout`) after this long without an ack; default: keep trying until `close()`. */
    timeoutMs?: number;
}
