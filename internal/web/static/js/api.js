// REST client and session (tokens in localStorage, refreshed before they
// expire and on a 401).

const KEY = 'im.session';

/** An error answered by the API, or a network failure (code "network"). */
export class APIError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, for rate_limited
  }
}

let session = load();
const listeners = new Set();
let refreshing = null;
let refreshTimer = 0;

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (s && s.access_token && s.refresh_token) return s;
  } catch { /* ignore a corrupt entry */ }
  return null;
}

function save(s) {
  session = s;
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
  schedule();
  for (const f of listeners) f(s);
}

/** The current session {user, access_token, refresh_token, session_id, expires_at} or null. */
export function currentSession() { return session; }

/** f(session|null) runs whenever the session changes (here or in another tab). */
export function onSession(f) { listeners.add(f); }

// Another tab logged in, refreshed or logged out: follow it.
window.addEventListener('storage', (e) => {
  if (e.key !== KEY) return;
  session = load();
  schedule();
  for (const f of listeners) f(session);
});

function fromAnswer(a) {
  return {
    user: a.user,
    access_token: a.access_token,
    refresh_token: a.refresh_token,
    // The session this login is (the sessions list marks it "This device").
    session_id: a.session_id || (session && session.session_id) || '',
    expires_at: Date.now() + (a.expires_in || 900) * 1000,
  };
}

/** Stores a new session from a register/login/refresh answer. */
export function adopt(answer) { save(fromAnswer(answer)); }

export function updateUser(u) {
  if (!session) return;
  save({ ...session, user: { ...session.user, ...u } });
}

function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  // Refresh at 80% of the lifetime left, at least 5 s from now.
  const left = session.expires_at - Date.now();
  const wait = Math.max(5000, left * 0.8);
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, Math.min(wait, 2 ** 31 - 1));
}

/**
 * Gets a new access token with the refresh token. One refresh at a time,
 * across tabs too (a refresh token works once: two tabs using the same one
 * would end the login).
 */
export function refresh() {
  if (refreshing) return refreshing;
  const old = session && session.refresh_token;
  const run = async () => {
    const cur = load();
    if (!cur) { save(null); throw new APIError(401, 'unauthenticated', 'You are logged out.'); }
    if (cur.refresh_token !== old && cur.expires_at - Date.now() > 30000) {
      // Another tab refreshed already.
      session = cur; schedule(); for (const f of listeners) f(cur);
      return cur;
    }
    try {
      const a = await request('POST', '/v1/auth/refresh', { refresh_token: cur.refresh_token }, { auth: false });
      save(fromAnswer(a));
      return session;
    } catch (e) {
      if (e.status === 401) save(null);
      throw e;
    }
  };
  const locked = navigator.locks ? () => navigator.locks.request('im-refresh', run) : run;
  refreshing = locked().finally(() => { refreshing = null; });
  return refreshing;
}

/** Returns an access token valid for at least `margin` ms, refreshing if needed. */
export async function freshToken(margin = 30000) {
  if (!session) throw new APIError(401, 'unauthenticated', 'You are logged out.');
  if (session.expires_at - Date.now() < margin) await refresh();
  return session.access_token;
}

/**
 * Calls the API. Authenticated by default; a 401 refreshes the token once
 * and retries. Resolves to the decoded JSON (or null for 204).
 */
export async function request(method, path, body, { auth = true, retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth) headers.Authorization = 'Bearer ' + await freshToken();
  let res;
  try {
    res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
  } catch {
    throw new APIError(0, 'network', 'Cannot reach the server. Check your connection.');
  }
  if (res.status === 401 && auth && !retried) {
    await refresh();
    return request(method, path, body, { auth, retried: true });
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw answerError(res.status, data, res.headers.get('Retry-After'));
  return data;
}

/** The APIError of a failed answer (its decoded JSON body, if any). */
function answerError(status, data, retryAfter) {
  const err = (data && data.error) || {};
  const retry = parseInt(retryAfter || '', 10);
  return new APIError(status, err.code || 'internal',
    err.message || `The server answered ${status}.`, Number.isFinite(retry) ? retry : undefined);
}

/**
 * Downloads path with the access token (files are not public: an <img src>
 * cannot send it) and resolves to a Blob. A 401 refreshes once.
 */
export async function fetchBlob(path, retried = false) {
  const token = await freshToken();
  let res;
  try {
    res = await fetch(path, { headers: { Authorization: 'Bearer ' + token }, credentials: 'omit' });
  } catch {
    throw new APIError(0, 'network', 'Cannot reach the server. Check your connection.');
  }
  if (res.status === 401 && !retried) {
    await refresh();
    return fetchBlob(path, true);
  }
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    throw answerError(res.status, data, res.headers.get('Retry-After'));
  }
  return res.blob();
}

/**
 * Uploads file to a room (multipart, part "file") with XMLHttpRequest, for
 * its upload progress: onProgress(fraction 0..1). Returns {promise, abort};
 * the promise resolves to the file's description
 * {file_id, name, size, content_type, width?, height?, thumbnail?}.
 */
export function upload(room, file, onProgress) {
  let xhr = null;
  let aborted = false;
  const once = (token) => new Promise((resolve, reject) => {
    if (aborted) { reject(new APIError(0, 'aborted', 'The upload was canceled.')); return; }
    xhr = new XMLHttpRequest();
    xhr.open('POST', `/v1/rooms/${encodeURIComponent(room)}/files`);
    xhr.setRequestHeader('Authorization', 'Bearer ' + token);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && data) resolve(data);
      else reject(answerError(xhr.status, data, xhr.getResponseHeader('Retry-After')));
    };
    xhr.onerror = () => reject(new APIError(0, 'network', 'Cannot reach the server. Check your connection.'));
    xhr.onabort = () => reject(new APIError(0, 'aborted', 'The upload was canceled.'));
    const form = new FormData();
    form.append('file', file, file.name || 'file');
    xhr.send(form);
  });
  const promise = (async () => {
    try {
      return await once(await freshToken());
    } catch (e) {
      if (aborted || e.status !== 401) throw e;
      await refresh();
      onProgress(0);
      return once(session.access_token);
    }
  })();
  return {
    promise,
    abort: () => { aborted = true; if (xhr) xhr.abort(); },
  };
}

/** Ends the session on the server (best effort) and here. */
export async function logout() {
  const s = session;
  save(null);
  if (s) {
    try { await request('POST', '/v1/auth/logout', { refresh_token: s.refresh_token }, { auth: false }); } catch { /* gone anyway */ }
  }
}

/**
 * Forgets the session here only: for a session the server ended already
 * (revoked, signed out elsewhere, account deleted).
 */
export function forget() { save(null); }

/** A human sentence for an error, for the page. */
export function describe(e, what = '') {
  if (!(e instanceof APIError)) return 'Something went wrong: ' + (e && e.message ? e.message : String(e));
  switch (e.code) {
    case 'rate_limited':
      return e.retryAfter
        ? `Too many attempts. Try again in ${e.retryAfter} second${e.retryAfter === 1 ? '' : 's'}.`
        : 'Too many attempts. Wait a moment and try again.';
    case 'network':
      return e.message;
    case 'unavailable':
      return 'The server is busy or restarting. Try again in a moment.';
    case 'internal':
      return 'The server had a problem. Try again.';
    case 'unauthenticated':
      return what === 'login' ? 'Wrong account or password.' : 'Your session has ended. Log in again.';
    default: {
      const m = e.message || e.code;
      return m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.');
    }
  }
}

/**
 * A short label for this browser, sent as the session's device ("Chrome on
 * Linux"); the sessions list shows it.
 */
export function deviceLabel(ua = navigator.userAgent) {
  const browser = [
    [/Edg(e|A|iOS)?\//, 'Edge'], [/OPR\/|Opera/, 'Opera'], [/SamsungBrowser\//, 'Samsung Internet'],
    [/Firefox\/|FxiOS\//, 'Firefox'], [/Chrome\/|Chromium\/|CriOS\//, 'Chrome'], [/Safari\//, 'Safari'],
  ].find(([re]) => re.test(ua));
  const os = [
    [/Windows/, 'Windows'], [/Android/, 'Android'], [/iPhone|iPad|iPod/, 'iOS'], [/CrOS/, 'ChromeOS'],
    [/Mac OS X|Macintosh/, 'macOS'], [/Linux/, 'Linux'],
  ].find(([re]) => re.test(ua));
  const b = browser ? browser[1] : 'Browser';
  return os ? `${b} on ${os[1]}` : b;
}

export const api = {
  emailCode: (email) => request('POST', '/v1/auth/email-code', { email }, { auth: false }),
  register: (b) => request('POST', '/v1/auth/register', { ...b, device: deviceLabel() }, { auth: false }),
  login: (login, password) => request('POST', '/v1/auth/login', { login, password, device: deviceLabel() }, { auth: false }),
  passwordReset: (email) => request('POST', '/v1/auth/password-reset', { email }, { auth: false }),
  passwordResetConfirm: (email, code, password) => request('POST', '/v1/auth/password-reset/confirm',
    { email, code, new_password: password }, { auth: false }),
  me: () => request('GET', '/v1/me'),
  updateMe: (fields) => request('PATCH', '/v1/me', fields),
  changePassword: (current, next) => request('POST', '/v1/me/password', { current_password: current, new_password: next }),
  emailChangeCode: (email) => request('POST', '/v1/me/email-code', { email }),
  changeEmail: (email, code) => request('POST', '/v1/me/email', { email, code }),
  sessions: () => request('GET', '/v1/me/sessions'),
  endSession: (id) => request('DELETE', '/v1/me/sessions/' + encodeURIComponent(id)),
  logoutAll: () => request('POST', '/v1/auth/logout-all'),
  deleteAccount: (password) => request('DELETE', '/v1/me', { password }),
  user: (account) => request('GET', '/v1/users/' + encodeURIComponent(account)),
  usersByID: (ids) => request('GET', '/v1/users?ids=' + ids.map(encodeURIComponent).join(',')),
  friends: () => request('GET', '/v1/friends'),
  deleteFriend: (account) => request('DELETE', '/v1/friends/' + encodeURIComponent(account)),
  friendRequests: () => request('GET', '/v1/friend-requests'),
  sendFriendRequest: (account, message) => request('POST', '/v1/friend-requests', { account, message }),
  accept: (id) => request('POST', `/v1/friend-requests/${encodeURIComponent(id)}/accept`),
  decline: (id) => request('POST', `/v1/friend-requests/${encodeURIComponent(id)}/decline`),
  createGroup: (name, members) => request('POST', '/v1/groups', { name, members }),
  group: (id) => request('GET', '/v1/groups/' + encodeURIComponent(id)),
  addMembers: (id, accounts) => request('POST', `/v1/groups/${encodeURIComponent(id)}/members`, { accounts }),
  removeMember: (id, account) => request('DELETE', `/v1/groups/${encodeURIComponent(id)}/members/${encodeURIComponent(account)}`),
  disband: (id) => request('DELETE', '/v1/groups/' + encodeURIComponent(id)),
  conversations: () => request('GET', '/v1/conversations'),
  history: (room, before, limit = 50) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before) q.set('before', String(before));
    return request('GET', `/v1/rooms/${encodeURIComponent(room)}/messages?${q}`);
  },
  read: (room, seq) => request('POST', `/v1/rooms/${encodeURIComponent(room)}/read`, { seq }),
  readers: (room, seq) => request('GET', `/v1/rooms/${encodeURIComponent(room)}/messages/${seq}/readers?limit=20`),
  blocks: () => request('GET', '/v1/blocks'),
  block: (account) => request('PUT', '/v1/blocks/' + encodeURIComponent(account)),
  unblock: (account) => request('DELETE', '/v1/blocks/' + encodeURIComponent(account)),
  hide: (room, seqs) => request('POST', `/v1/rooms/${encodeURIComponent(room)}/hide`, { seqs }),
  send: (room, body, clientMsgID) => request('POST', `/v1/rooms/${encodeURIComponent(room)}/messages`, { body, client_msg_id: clientMsgID }),
};
