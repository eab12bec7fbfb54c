// Presence and typing (docs/protocol.md: the `typing` frame, the `presence`
// and `typing` events, GET /v1/presence). main.js hooks it in a few places:
// the events, the composer's input and send, the conversations' reload,
// and the chat header and list, which read online(), lastSeen() and
// typingLine().
import { request } from './api.js';

// While the user types, "on" is sent again this often (the server relays
// at most one every 2 s, and receivers drop it after expires_ms, 6 s).
const TYPING_EVERY = 3000;
// Without input for this long, "off" is sent.
const TYPING_IDLE = 5000;
// At most this many ids per presence query (the server's limit is 500).
const QUERY_MAX = 500;

export function createPresence({ send, rerender }) {
  const known = new Map(); // user id -> { online, last_seen }
  const typers = new Map(); // room id -> Map(user id -> timer)
  const mine = { room: '', sentAt: 0, idle: 0 };
  const asked = new Set(); // ids asked about once already (see want)
  let wanted = [];

  function set(p) {
    if (!p || !p.user_id) return;
    known.set(p.user_id, { online: !!p.online, last_seen: p.last_seen || '' });
  }

  async function query(ids) {
    for (let i = 0; i < ids.length; i += QUERY_MAX) {
      const part = ids.slice(i, i + QUERY_MAX);
      try {
        const { presence } = await request('GET', '/v1/presence?users=' + part.map(encodeURIComponent).join(','));
        for (const p of presence || []) set(p);
      } catch { /* presence is a nicety: the next event or reload corrects it */ }
    }
    rerender();
  }

  // A user shown whose presence is not known yet (a new friend, whose
  // going online came before the friendship): asked once, in a batch.
  function want(uid) {
    if (!uid || known.has(uid) || asked.has(uid)) return;
    asked.add(uid);
    wanted.push(uid);
    if (wanted.length === 1) {
      setTimeout(() => { const ids = wanted; wanted = []; query(ids); }, 50);
    }
  }

  return {
    /** A `presence` event. */
    onPresence(data) { set(data); rerender(); },

    /** A `typing` event: shown until `off` or expires_ms. */
    onTyping(data) {
      if (!data || !data.room_id || !data.user_id) return;
      let room = typers.get(data.room_id);
      if (!room) { room = new Map(); typers.set(data.room_id, room); }
      clearTimeout(room.get(data.user_id));
      room.delete(data.user_id);
      if (data.on) {
        const ms = Math.min(Math.max(data.expires_ms || 6000, 1000), 30000);
        room.set(data.user_id, setTimeout(() => { room.delete(data.user_id); rerender(); }, ms));
      }
      rerender();
    },

    /** A message of uid arrived in roomID: they stopped typing there. */
    onMessage(roomID, uid) {
      const room = typers.get(roomID);
      if (room && room.has(uid)) { clearTimeout(room.get(uid)); room.delete(uid); rerender(); }
    },

    /** Reloads the presence of ids (the direct rooms' peers), after a (re)connect. */
    load(ids) {
      const uniq = [...new Set(ids.filter(Boolean))];
      for (const id of uniq) asked.add(id);
      return uniq.length ? query(uniq) : Promise.resolve();
    },

    online(uid) { want(uid); const p = known.get(uid); return !!(p && p.online); },

    /** "online", "last seen <when>" or "" (unknown or hidden). */
    status(uid, when) {
      want(uid);
      const p = known.get(uid);
      if (!p) return '';
      if (p.online) return 'online';
      return p.last_seen ? 'last seen ' + when(p.last_seen) : '';
    },

    /** "Alice is typing…" for roomID, or "". */
    typingLine(roomID, nameOf) {
      const room = typers.get(roomID);
      if (!room || room.size === 0) return '';
      const names = [...room.keys()].map(nameOf);
      return names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`;
    },

    /** The composer of roomID changed: empty is "stopped". */
    input(roomID, empty) {
      if (empty) { this.stop(); return; }
      const now = Date.now();
      if (mine.room !== roomID) this.stop();
      if (mine.room !== roomID || now - mine.sentAt >= TYPING_EVERY) {
        if (send({ type: 'typing', room_id: roomID, on: true })) { mine.room = roomID; mine.sentAt = now; }
      }
      clearTimeout(mine.idle);
      mine.idle = setTimeout(() => this.stop(), TYPING_IDLE);
    },

    /** The user sent, cleared the draft, left the chat or went idle. */
    stop() {
      clearTimeout(mine.idle);
      if (mine.room) send({ type: 'typing', room_id: mine.room, on: false });
      mine.room = '';
      mine.sentAt = 0;
    },

    clear() { known.clear(); asked.clear(); wanted = []; for (const r of typers.values()) for (const t of r.values()) clearTimeout(t); typers.clear(); this.stop(); },
  };
}
