// A small REST client for the calls a chat client needs around the socket:
// log in, refresh, the conversations (to start each room's cursor), history.
// Every other route of api/openapi.yaml is reachable with `request`.

import { IMError } from './errors.js';
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

type FetchFn = typeof fetch;

export class Rest {
  private readonly base: string;
  private readonly fetchFn: FetchFn;
  private readonly timeoutMs: number;
  private token: RestOptions['token'];

  constructor(o: RestOptions) {
    if (!/^https?:\/\//.test(o.baseUrl || '')) throw new IMError('invalid_argument', 'baseUrl: the API origin, http or https');
    this.base = o.baseUrl.replace(/\/+$/, '');
    const f = o.fetch ?? (globalThis as { fetch?: FetchFn }).fetch;
    if (!f) throw new IMError('invalid_argument', 'no fetch: pass options.fetch');
    this.fetchFn = f;
    this.timeoutMs = o.timeoutMs ?? 30000;
    this.token = o.token;
  }

  /** Sets the access token used from now on. */
  setToken(token: string | (() => string | Promise<string>)): void { this.token = token; }

  /**
   * Calls the API; resolves to the decoded JSON (null for 204) or rejects
   * with an `IMError` carrying the contract's code, the HTTP status and,
   * for `rate_limited`, `retryAfterMs`.
   */
  async request<T = unknown>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) {
      const t = typeof this.token === 'function' ? await this.token() : this.token;
      if (!t) throw new IMError('unauthenticated', 'no access token', 401);
      headers.Authorization = 'Bearer ' + t;
    }
    const ctl = typeof AbortController === 'function' ? new AbortController() : undefined;
    const timer = ctl ? setTimeout(() => ctl.abort(), this.timeoutMs) : undefined;
    let res: Response;
    try {
      res = await this.fetchFn(this.base + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ctl?.signal,
      });
    } catch (e) {
      throw new IMError('network', `cannot reach the server: ${(e as Error)?.message ?? e}`);
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 204) return null as T;
    let data: unknown = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    if (!res.ok) {
      const err = ((data as { error?: { code?: string; message?: string } } | null)?.error) ?? {};
      const ra = parseInt(res.headers.get('Retry-After') || '', 10);
      throw new IMError(err.code || 'internal', err.message || `the server answered ${res.status}`, res.status,
        Number.isFinite(ra) ? ra * 1000 : undefined);
    }
    return data as T;
  }

  emailCode(email: string): Promise<unknown> {
    return this.request('POST', '/v1/auth/email-code', { email }, false);
  }

  register(b: { email: string; code: string; account: string; password: string; nickname: string; device?: string }): Promise<AuthAnswer> {
    return this.request('POST', '/v1/auth/register', b, false);
  }

  login(login: string, password: string, device?: string): Promise<AuthAnswer> {
    return this.request('POST', '/v1/auth/login', device ? { login, password, device } : { login, password }, false);
  }

  /** A new access token; the old refresh token stops working (use the answer's). */
  refresh(refreshToken: string): Promise<AuthAnswer> {
    return this.request('POST', '/v1/auth/refresh', { refresh_token: refreshToken }, false);
  }

  logout(refreshToken: string): Promise<null> {
    return this.request('POST', '/v1/auth/logout', { refresh_token: refreshToken }, false);
  }

  me(): Promise<User> {
    return this.request('GET', '/v1/me');
  }

  /** The user's rooms with `last_seq`: start each room's cursor there (`Client.track`). */
  async conversations(): Promise<Conversation[]> {
    const a = await this.request<{ conversations: Conversation[] }>('GET', '/v1/conversations');
    return a.conversations;
  }

  /** A page of a room's history: before/after a seq, at most 100. */
  history(roomId: string, q: { before?: number; after?: number; limit?: number } = {}): Promise<{ messages: Message[]; has_more: boolean }> {
    const p = new URLSearchParams();
    if (q.before) p.set('before', String(q.before));
    if (q.after) p.set('after', String(q.after));
    if (q.limit) p.set('limit', String(q.limit));
    const s = p.toString();
    return this.request('GET', `/v1/rooms/${encodeURIComponent(roomId)}/messages${s ? '?' + s : ''}`);
  }

  /** Sends over REST: the same idempotency as the socket's `send` with the same client_msg_id. */
  sendMessage(roomId: string, body: string, clientMsgId: string): Promise<Message> {
    return this.request('POST', `/v1/rooms/${encodeURIComponent(roomId)}/messages`, { body, client_msg_id: clientMsgId });
  }

  markRead(roomId: string, seq: number): Promise<null> {
    return this.request('POST', `/v1/rooms/${encodeURIComponent(roomId)}/read`, { seq });
  }
}
