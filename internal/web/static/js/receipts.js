// Read receipts and blocking in the web client (docs/protocol.md, "Read
// receipts" and "Blocking"). main.js keeps the state on its rooms and
// calls these hooks; this module holds the rules.
import { el } from './dom.js';

/** Event read: a member of a direct room read it up to seq. Returns whether the chat changes. */
export function applyRead(room, data, meID) {
  if (!room || !data || data.user_id === meID || typeof data.seq !== 'number') return false;
  if ((room.peerRead || 0) >= data.seq) return false;
  room.peerRead = data.seq; // two devices may announce out of order: keep the highest
  return true;
}

/**
 * After a direct room's history loaded: the peer's read mark, asked of the
 * readers of my oldest message on the page (they list the peer, with their
 * mark, once they read that far), so the ticks show before any read event.
 * Returns whether it rose.
 */
export async function loadPeerRead(room, msgs, meID, api) {
  if (!room || room.type === 'group') return false;
  const mine = msgs.filter((m) => m.from === meID && m.seq && !m.recalled);
  if (!mine.length) return false;
  const page = await api.readers(room.id, mine[0].seq);
  const peer = (page.readers || []).find((x) => x.user && x.user.id !== meID);
  if (!peer || (room.peerRead || 0) >= peer.read_seq) return false;
  room.peerRead = peer.read_seq;
  return true;
}

/** Event read_counts: how many members read the group's latest messages. */
export function applyReadCounts(room, data) {
  if (!room || !data || !Array.isArray(data.counts)) return false;
  if (!room.readCounts) room.readCounts = new Map();
  for (const c of data.counts) {
    if (typeof c.seq === 'number' && typeof c.read === 'number') room.readCounts.set(c.seq, c.read);
  }
  // Bounded: the counts of the latest messages only.
  while (room.readCounts.size > 200) room.readCounts.delete(room.readCounts.keys().next().value);
  return true;
}

/**
 * The receipt under one of my messages: "Read" in a direct room once the
 * peer's mark passed it; "Read by N" in a group (a click lists them).
 */
export function receiptNode(room, m, mine, onReaders) {
  if (!mine || !m.seq || m.recalled) return null;
  if (room.type !== 'group') {
    return (room.peerRead || 0) >= m.seq ? el('span', { class: 'read-tick', testid: 'read-tick', text: ' · Read' }) : null;
  }
  const n = room.readCounts && room.readCounts.get(m.seq);
  if (!n) return null;
  // The separator stays outside: the button's name starts with its text.
  return el('span', {}, ' · ', el('button', {
    class: 'link read-by', testid: 'read-by', text: `Read by ${n}`,
    attrs: { type: 'button', 'aria-label': `Read by ${n}, show who` },
    on: { click: () => onReaders(room, m) },
  }));
}

/** The names of a page of readers, for a short notice. */
export function readersText(page) {
  const names = (page.readers || []).map((x) => x.user.nickname || x.user.account);
  const more = page.read > names.length ? ` and ${page.read - names.length} more` : '';
  return names.length ? `Read by ${names.join(', ')}${more}.` : 'Nobody has read it yet.';
}

/** A Block / Unblock button for the profile card of user u. */
export function blockButton(u, blocked, api, done) {
  const b = el('button', {
    class: 'small-btn', id: 'find-block', testid: 'block', text: blocked ? 'Unblock' : 'Block',
    attrs: { type: 'button' },
  });
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      if (blocked) await api.unblock(u.account);
      else await api.block(u.account);
      done(!blocked, null);
    } catch (err) {
      b.disabled = false;
      done(blocked, err);
    }
  });
  return b;
}
