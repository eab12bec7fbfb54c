// A small REST client for the calls a chat client needs around the socket:
// log in, refresh, the conversations (to start each room's cursor), history.
// Every other route of api/openapi.yaml is reachable with `request`.
import { IMError } from './errors.js';
export class Rest {
    constructor(o) {
        if (!/^https?:\/\//.test(o.baseUrl || ''))
            throw new IMError('invalid_argument', 'baseUrl: the API origin, http or https');
        this.base = o.baseUrl.replace(/\/+$/, '');
        const f = o.fetch ?? globalThis.fetch;
        if (!f)
            throw new IMError('invalid_argument', 'no fetch: pass options.fetch');
        this.fetchFn = f;
        this.timeoutMs = o.timeoutMs ?? 30000;
        this.token = o.token;
    }
    /** Sets the access token used from now on. */
    setToken(token) { this.token = token; }
    /**
     * Calls the API; resolves to the decoded JSON (null for 204) or rejects
     * with an `IMError` carrying the contract's code, the HTTP status and,
     * for `rate_limited`, `retryAfterMs`.
     */
    async request(method, path, body, auth = true) {
        const headers = { Accept: 'application/json' };
        if (body !== undefined)
            headers['Content-Type'] = 'application/json';
        if (auth) {
            const t = typeof this.token === 'function' ? await this.token() : this.token;
            if (!t)
                throw new IMError('unauthenticated', 'no access token', 401);
            headers.Authorization = 'Bearer ' + t;
        }
        const ctl = typeof AbortController === 'function' ? new AbortController() : undefined;
        const timer = ctl ? setTimeout(() => ctl.abort(), this.timeoutMs) : undefined;
        let res;
        try {
            res = await this.fetchFn(this.base + path, {
                method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ctl?.signal,
            });
        }
        catch (e) {
            throw new IMError('network', `cannot reach the server: ${e?.message ?? e}`);
        }
        finally {
            clearTimeout(timer);
        }
        if (res.status === 204)
            return null;
        let data = null;
        try {
            data = await res.json();
        }
        catch { /* not JSON */ }
        if (!res.ok) {
            const err = (data?.error) ?? {};
            const ra = parseInt(res.headers.get('Retry-After') || '', 10);
            throw new IMError(err.code || 'internal', err.message || `the server answered ${res.status}`, res.status, Number.isFinite(ra) ? ra * 1000 : undefined);
        }
        return data;
    }
    emailCode(email) {
        return this.request('POST', '/v1/auth/email-code', { email }, false);
    }
    register(b) {
        return this.request('POST', '/v1/auth/register', b, false);
    }
    login(login, password, device) {
        return this.request('POST', '/v1/auth/login', device ? { login, password, device } : { login, password }, false);
    }
    /** A new access token; the old refresh token stops working (use the answer's). */
    refresh(refreshToken) {
        return this.request('POST', '/v1/auth/refresh', { refresh_token: refreshToken }, false);
    }
    logout(refreshToken) {
        return this.request('POST', '/v1/auth/logout', { refresh_token: refreshToken }, false);
    }
    me() {
        return this.request('GET', '/v1/me');
    }
    /** The user's rooms with `last_seq`: start each room's cursor there (`Client.track`). */
    async conversations() {
        const a = await this.request('GET', '/v1/conversations');
        return a.conversations;
    }
    /** A page of a room's history: before/after a seq, at most 100. */
    history(roomId, q = {}) {
        const p = new URLSearchParams();
        if (q.before)
            p.set('before', String(q.before));
        if (q.after)
            p.set('after', String(q.after));
        if (q.limit)
            p.set('limit', String(q.limit));
        const s = p.toString();
        return this.request('GET', `/v1/rooms/${encodeURIComponent(roomId)}/messages${s ? '?' + s : ''}`);
    }
    /** Sends over REST: the same idempotency as the socket's `send` with the same client_msg_id. */
    sendMessage(roomId, body, clientMsgId) {
        return this.request('POST', `/v1/rooms/${encodeURIComponent(roomId)}/messages`, { body, client_msg_id: clientMsgId });
    }
    markRead(roomId, seq) {
        return this.request('POST', `/v1/rooms/${encodeURIComponent(roomId)}/read`, { seq });
    }
}
