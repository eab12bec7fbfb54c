// The web client: sign-in screens, the conversation list and the chat, kept
// live over one WebSocket. See docs/protocol.md, section 6, for the seq/sync
// rules followed here.

import { api, adopt, currentSession, onSession, logout, forget, describe, updateUser, upload } from './api.js';
import { Socket } from './socket.js';
import {
  $, el, clear, show, say, codepoints, avatar, newAvatar, shortTime, clock, dayLabel, dayKey, randomID,
} from './dom.js';
import {
  EMOJI, RECALL_MS, isEvent, mentions, applyChange, formatSize, fit, summary,
  fileURL, cachedURL, seedURL, forgetURLs, download,
} from './rich.js';
import { openMenu, closeMenu, menuOpen, wireMenu } from './menu.js';
import { openGroupSettings, wireGroupSettings, groupSettingsChanged, closeGroupSettings } from './groupadmin.js';
import { applyRead, applyReadCounts, receiptNode, readersText, blockButton, loadPeerRead } from './receipts.js';
import { createPresence } from './presence.js';
import { announce, openDialog, wireDialogs } from './a11y.js';

const MAX_BODY = 4000;
const PAGE = 50;
const ACCOUNT_RE = /^[a-z0-9_.-]{3,32}$/;

const state = {
  me: null,
  rooms: new Map(), // room id -> room (see newRoom)
  users: new Map(), // user id -> public user
  current: null, // id of the open room
  incoming: [],
  outgoing: [],
  convLoaded: false,
};

let socket = null;
// Friends' presence and "typing…" (presence.js).
const presence = createPresence({ send: (f) => !!socket && socket.send(f), rerender: () => render('list chat') });

/* ------------------------------------------------------------------ rooms */

function newRoom(c) {
  return {
    id: c.room_id,
    type: c.type,
    peer: c.peer || null,
    group: c.group || null,
    members: null, // group members, loaded when the group is opened
    lastSeq: c.last_seq || 0, // highest seq seen
    // The room's sync cursor is the SDK's (socket.track): it starts at
    // last_seq, moves over contiguous seqs and to synced.last_seq.
    baseSeq: c.last_seq || 0, // messages up to here are in the server's unread count
    readSeq: c.read_seq || 0,
    unread: c.unread || 0,
    mentioned: !!c.mentioned, // someone mentioned me past my read mark
    mentionSeq: 0, // the newest live message that mentioned me
    last: c.last_message || null,
    msgs: new Map(), // seq -> message
    pending: new Map(), // client_msg_id -> pending message
    loaded: false, // newest page of history fetched
    oldest: 0, // lowest seq loaded
    hasMore: true,
    loading: false,
    hidden: new Set(), // seqs deleted for me
    draft: '',
  };
}

function roomTitle(r) {
  if (r.type === 'group') return (r.group && r.group.name) || 'Group';
  return (r.peer && (r.peer.nickname || r.peer.account)) || 'Chat';
}

function roomKey(r) {
  return r.type === 'group' ? r.id : (r.peer ? r.peer.id : r.id);
}

function activity(r) {
  let t = r.last ? Date.parse(r.last.created_at) : 0;
  for (const p of r.pending.values()) t = Math.max(t, Date.parse(p.created_at));
  if (!t && r.group) t = Date.parse(r.group.created_at) || 0;
  return t || 0;
}

function remember(u) {
  if (u && u.id) state.users.set(u.id, { ...(state.users.get(u.id) || {}), ...u });
}

function nameOf(id) {
  if (state.me && id === state.me.id) return 'You';
  const u = state.users.get(id);
  return u ? (u.nickname || u.account) : 'Someone';
}

// Senders the client knows from no member list or friendship (someone who
// left a group, or deleted their account: "Deleted user") are looked up by
// id, up to 100 per request, each once unless forced.
const lookup = { asked: new Set(), queue: new Set(), timer: 0, busy: false };

function resolveUsers(ids, force = false) {
  for (const id of ids) {
    if (!id || (state.me && id === state.me.id)) continue;
    if (!force && (state.users.has(id) || lookup.asked.has(id))) continue;
    lookup.queue.add(id);
  }
  if (!lookup.queue.size || lookup.busy) return;
  clearTimeout(lookup.timer);
  lookup.timer = setTimeout(flushLookups, 30);
}

async function flushLookups() {
  if (lookup.busy || !state.me) return;
  const ids = [...lookup.queue].slice(0, 100);
  if (!ids.length) return;
  for (const id of ids) { lookup.queue.delete(id); lookup.asked.add(id); }
  lookup.busy = true;
  try {
    const { users } = await api.usersByID(ids);
    if (!state.me) return;
    for (const u of users || []) remember(u);
    render('list chat');
  } catch { /* the names stay "Someone" */ } finally {
    lookup.busy = false;
  }
  if (lookup.queue.size) flushLookups();
}

/* ------------------------------------------------------------- rendering */

let renderQueued = false;
const dirty = { list: false, chat: false, requests: false };

function render(what) {
  for (const k of what.split(' ')) dirty[k] = true;
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    if (dirty.list) { dirty.list = false; renderList(); }
    if (dirty.requests) { dirty.requests = false; renderRequests(); }
    if (dirty.chat) { dirty.chat = false; renderChat(); }
  });
}

// The list keeps one <li> per room (so focus and references survive
// updates) and refreshes its contents and order.
const convItems = new Map(); // room id -> li

// Each <li> holds one button (a list of list items; the button's name is
// its visible text).
function convItem(id) {
  let li = convItems.get(id);
  if (!li) {
    li = el('li', {}, el('button', { class: 'conv-btn', attrs: { type: 'button' }, on: { click: () => openRoom(id) } }));
    convItems.set(id, li);
  }
  return li;
}

function renderList() {
  if (!state.me) return;
  const ul = $('#conversations');
  const rooms = [...state.rooms.values()].sort((a, b) => activity(b) - activity(a));
  for (const [id, li] of convItems) {
    if (!state.rooms.has(id)) { li.remove(); convItems.delete(id); }
  }
  rooms.forEach((r, i) => {
    const title = roomTitle(r);
    let preview = '';
    let previewTime = '';
    const pend = [...r.pending.values()].pop();
    if (pend) {
      preview = 'You: ' + summary(pend);
      previewTime = pend.created_at;
    } else if (r.last) {
      if (r.type === 'group' && !state.users.has(r.last.from)) {
        if (!r.membersTried) { r.membersTried = true; loadMembers(r); } else if (r.members) resolveUsers([r.last.from]);
      }
      const mine = r.last.from === state.me.id;
      if (isEvent(r.last)) { // "Bob reacted 👍 to a message"
        preview = (mine ? 'You' : nameOf(r.last.from)) + ' ' + summary(r.last);
      } else {
        preview = (mine ? 'You: ' : (r.type === 'group' ? nameOf(r.last.from) + ': ' : '')) + summary(r.last);
      }
      previewTime = r.last.created_at;
    } else {
      preview = r.type === 'group' ? `${r.group ? r.group.member_count : ''} members` : 'Say hello!';
    }
    const seen = r.id === state.current && viewing();
    const unread = seen ? 0 : r.unread;
    const mentioned = !seen && r.mentioned;
    const li = convItem(r.id);
    li.className = 'conv' + (r.id === state.current ? ' active' : '') + (unread > 0 ? ' has-unread' : '');
    li.dataset.testid = r.type === 'group' ? 'conv-group' : 'conv-direct';
    li.dataset.room = r.id;
    li.dataset.title = title;
    if (r.peer) li.dataset.peer = r.peer.account;
    const btn = li.firstChild;
    if (r.id === state.current) btn.setAttribute('aria-current', 'true');
    else btn.removeAttribute('aria-current');
    // Spans only (phrasing content of a button); what a screen reader
    // adds to the visible text ("online", "unread") is visually hidden.
    const online = r.peer && presence.online(r.peer.id);
    btn.replaceChildren(
      newAvatar(title, roomKey(r), r.type === 'group' ? 'group' : ''),
      el('span', { class: 'conv-main' },
        el('span', { class: 'conv-top' },
          el('span', { class: 'conv-title', text: title, attrs: { dir: 'auto' } }),
          online ? el('span', { class: 'presence-dot', testid: 'online', attrs: { title: 'online' } }) : '',
          online ? el('span', { class: 'visually-hidden', text: ' (online)' }) : '',
          el('span', { class: 'conv-time muted small', text: previewTime ? ' ' + shortTime(previewTime) : '' })),
        el('span', { class: 'conv-bottom' },
          el('span', { class: 'conv-preview muted', text: ' ' + preview.replace(/\s+/g, ' '), attrs: { dir: 'auto' } }),
          mentioned ? el('span', { class: 'badge mention', testid: 'mentioned', text: '@', attrs: { title: 'You were mentioned' } }) : '',
          mentioned ? el('span', { class: 'visually-hidden', text: ' (you were mentioned)' }) : '',
          unread > 0 ? el('span', { class: 'badge', testid: 'unread', text: unread > 99 ? '99+' : String(unread) }) : '',
          unread > 0 ? el('span', { class: 'visually-hidden', text: ' unread' }) : '')));
    if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
  });
  show($('#conv-empty'), state.convLoaded && rooms.length === 0);
}

function renderRequests() {
  const inc = $('#requests');
  const out = $('#outgoing');
  clear(inc);
  clear(out);
  for (const rq of state.incoming) {
    const u = rq.from;
    const name = u.nickname || u.account;
    const li = el('li', { class: 'req', testid: 'request-' + u.account, data: { id: rq.id } },
      newAvatar(name, u.id),
      el('div', { class: 'req-main' },
        el('div', {}, el('strong', { text: name }), el('span', { class: 'muted small', text: ' @' + u.account })),
        rq.message ? el('div', { class: 'req-note small', text: rq.message }) : null,
        el('div', { class: 'req-actions' },
          el('button', {
            class: 'primary small-btn', text: 'Accept', testid: 'accept-' + u.account, attrs: { type: 'button' },
            on: { click: (e) => answerRequest(rq, true, e.currentTarget) },
          }),
          el('button', {
            class: 'ghost small-btn', text: 'Decline', testid: 'decline-' + u.account, attrs: { type: 'button' },
            on: { click: (e) => answerRequest(rq, false, e.currentTarget) },
          }))));
    inc.append(li);
  }
  for (const rq of state.outgoing) {
    const u = rq.to;
    out.append(el('li', { class: 'req out muted small', testid: 'outgoing-' + u.account },
      el('span', { text: `Waiting for @${u.account} to accept` })));
  }
  show($('#requests-section'), state.incoming.length + state.outgoing.length > 0);
}

function setAvatarTitle(r) {
  const title = roomTitle(r);
  $('#chat-title').textContent = title;
  avatar($('#chat-avatar'), title, roomKey(r));
  $('#chat-avatar').classList.toggle('group', r.type === 'group');
  let sub = '';
  if (r.type === 'group') {
    const n = r.group ? r.group.member_count : 0;
    sub = `${n} member${n === 1 ? '' : 's'}`;
    if (r.members) sub += ' · ' + r.members.map((u) => (u.id === state.me.id ? 'you' : (u.nickname || u.account))).join(', ');
  } else if (r.peer) {
    const st = presence.status(r.peer.id, shortTime);
    sub = '@' + r.peer.account + (st ? ' · ' + st : '');
  }
  const typing = presence.typingLine(r.id, nameOf);
  $('#chat-sub').textContent = typing || sub;
  $('#chat-sub').classList.toggle('typing', !!typing);
  const owner = r.type === 'group' && r.group && r.group.owner === state.me.id;
  show($('#chat-add-members'), r.type === 'group');
  show($('#chat-group-settings'), r.type === 'group');
  show($('#chat-leave'), r.type === 'group');
  $('#chat-leave').textContent = owner ? 'Disband' : 'Leave';
  show($('#chat-unfriend'), r.type === 'direct');
}

function renderChat() {
  if (!state.me) return;
  const r = state.current && state.rooms.get(state.current);
  show($('#chat-empty'), !r);
  show($('#chat-pane'), !!r);
  document.body.classList.toggle('in-chat', !!r);
  if (!r) return;
  setAvatarTitle(r);
  const box = $('#messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const list = $('#message-list');
  // Focus inside the list (a message's menu button, a reaction) survives
  // the re-render.
  const focused = list.contains(document.activeElement) ? focusKey(document.activeElement) : null;
  clear(list);
  // Change events and messages deleted for me are never shown.
  const msgs = [...r.msgs.values()].filter((m) => !isEvent(m) && !m.hidden).sort((a, b) => a.seq - b.seq);
  let day = '';
  let prevFrom = '';
  const add = (m, pending) => {
    const k = dayKey(m.created_at);
    if (k !== day) {
      day = k;
      prevFrom = '';
      list.append(el('li', { class: 'day' }, el('span', { text: dayLabel(m.created_at) })));
    }
    const cont = m.from === prevFrom;
    prevFrom = m.from;
    list.append(messageItem(r, m, pending, cont));
  };
  for (const m of msgs) add(m, null);
  for (const p of r.pending.values()) add(p, p);
  if (r.type === 'group' && r.members) resolveUsers(msgs.map((m) => m.from));
  // The last bubble of a run from one sender shows the time.
  const items = list.children;
  for (let i = 0; i < items.length; i++) {
    const next = items[i + 1];
    if (items[i].classList.contains('msg') && (!next || !next.classList.contains('cont'))) items[i].classList.add('tail');
  }
  if (focused) {
    const f = list.querySelector(focused);
    if (f) f.focus({ preventScroll: true });
  }

  const status = $('#history-status');
  if (r.loading) status.textContent = 'Loading older messages…';
  else if (r.loaded && !r.hasMore) status.textContent = msgs.length ? 'This is the beginning of the conversation.' : 'No messages yet. Say hello!';
  else status.textContent = '';

  if (renderChat.keep) {
    box.scrollTop = box.scrollHeight - fromBottom;
    renderChat.keep = false;
  } else if (atBottom || renderChat.bottom) {
    box.scrollTop = box.scrollHeight;
  }
  renderChat.bottom = false;
  // A short first page does not fill the box: load more right away.
  if (r.loaded && r.hasMore && !r.loading && box.scrollHeight <= box.clientHeight + 10) loadOlder(r);
}
renderChat.keep = false;
renderChat.bottom = false;

/** One message of the chat (m: stored; pending: the same object, not yet acknowledged). */
function messageItem(r, m, pending, cont) {
  const mine = m.from === state.me.id;
  const edited = !!m.edited_at && !m.recalled;
  const cls = ['msg', mine ? 'mine' : 'theirs'];
  if (pending) cls.push(pending.state);
  if (cont) cls.push('cont');
  if (m.recalled) cls.push('recalled');
  if (edited) cls.push('edited');
  if (!mine && !m.recalled && mentions(m, state.me.id)) cls.push('mentions-me');
  const meta = el('div', { class: 'meta' }, el('span', { text: clock(m.created_at) }));
  if (edited) meta.append(el('span', { class: 'edited-tag', testid: 'edited', text: ' · edited' }));
  if (pending) pendingMeta(r, pending, meta);
  const receipt = pending ? null : receiptNode(r, m, mine, showReaders);
  if (receipt) meta.append(receipt);
  const actions = pending ? null : el('button', {
    class: 'msg-actions-btn', testid: 'msg-actions', text: '⋯', data: { focus: 'actions' },
    attrs: {
      type: 'button', title: 'More', 'aria-label': 'Message actions',
      'aria-haspopup': 'menu', 'aria-expanded': String(menuOpen() && menuSeq === m.seq), 'aria-controls': 'msg-menu',
    },
    on: { click: (e) => toggleMessageMenu(r, m, e.currentTarget) },
  });
  const li = el('li', {
    class: cls.join(' '), testid: 'msg',
    data: pending
      ? { cmid: pending.client_msg_id, state: pending.state, kind: m.kind || 'text' }
      : { seq: m.seq, cmid: m.client_msg_id || '', kind: m.kind || 'text' },
  },
  r.type === 'group' && !mine && !cont ? el('div', { class: 'sender', text: nameOf(m.from), attrs: { dir: 'auto' } }) : null,
  quoteNode(r, m),
  el('div', { class: 'bubble-row' }, bubbleNode(m, pending), actions),
  reactionsNode(r, m),
  meta);
  if (actions) {
    li.addEventListener('contextmenu', (e) => {
      if (e.target.closest('a, button:not(.msg-actions-btn)')) return;
      e.preventDefault();
      toggleMessageMenu(r, m, actions);
    });
  }
  return li;
}

/** Who read one of my messages in a group, as a notice. */
async function showReaders(r, m) {
  try {
    toast(readersText(await api.readers(r.id, m.seq)), 'info');
  } catch (err) {
    toast(describe(err), 'error');
  }
}

/** A pending message's state: uploading, sending, or not sent with Retry and Delete. */
function pendingMeta(r, p, meta) {
  if (p.state === 'uploading') {
    meta.append(el('span', { class: 'status', text: ' · Uploading…' }));
    meta.append(el('button', {
      class: 'link', text: 'Cancel', attrs: { type: 'button', 'aria-label': 'Cancel the upload' },
      on: { click: () => { if (p.abort) p.abort(); } },
    }));
  }
  if (p.state === 'pending') meta.append(el('span', { class: 'status', text: ' · Sending…' }));
  if (p.state === 'failed') {
    meta.append(el('span', { class: 'status', text: ' · Not sent: ' + p.error }));
    meta.append(el('button', {
      class: 'link', text: 'Retry', attrs: { type: 'button' },
      on: { click: () => retryPending(r, p) },
    }));
    meta.append(el('button', {
      class: 'link', text: 'Delete', attrs: { type: 'button' },
      on: { click: () => dropPending(r, p) },
    }));
  }
}

function bubbleNode(m, pending) {
  if (m.recalled) return el('div', { class: 'bubble recalled', testid: 'recalled', text: 'Message recalled' });
  const att = m.attachment;
  if ((m.kind === 'image' || m.kind === 'file') && att) {
    const parts = [m.kind === 'image' ? imageNode(att, pending) : fileNode(att, pending)];
    if (pending && pending.state === 'uploading') {
      parts.push(el('progress', {
        class: 'upload-progress', testid: 'upload-progress',
        attrs: { max: '100', value: String(Math.round(pending.progress * 100)), 'aria-label': `Uploading ${att.name}` },
      }));
    }
    if (m.body) parts.push(el('div', { class: 'caption', attrs: { dir: 'auto' } }, ...bodyNodes(m)));
    return el('div', { class: 'bubble media' }, ...parts);
  }
  if (!m.body && m.kind && m.kind !== 'text') return el('div', { class: 'bubble muted', text: summary(m) || 'Message' });
  // dir=auto: a right-to-left message reads (and aligns) right to left.
  return el('div', { class: 'bubble', attrs: { dir: 'auto' } }, ...bodyNodes(m));
}

/** The body, with the @names of the users it mentions highlighted (as text). */
function bodyNodes(m) {
  const body = m.body || '';
  const names = [];
  for (const id of Array.isArray(m.mentions) ? m.mentions : []) {
    if (id === '@all') { names.push('@all'); continue; }
    const u = state.users.get(id);
    if (u) for (const n of [u.nickname, u.account]) if (n) names.push('@' + n);
  }
  if (!names.length) return [body];
  names.sort((a, b) => b.length - a.length);
  const out = [];
  let from = 0;
  for (let i = body.indexOf('@'); i >= 0; i = body.indexOf('@', i)) {
    const n = names.find((x) => body.startsWith(x, i));
    if (!n) { i++; continue; }
    if (from < i) out.push(body.slice(from, i));
    out.push(el('span', { class: 'mention', text: n }));
    i += n.length;
    from = i;
  }
  if (from < body.length) out.push(body.slice(from));
  return out;
}

/** An image: its thumbnail (a local copy while uploading); a click opens the full size. */
function imageNode(att, pending) {
  const [w, h] = fit(att.width, att.height);
  const name = att.name || 'Image';
  const img = el('img', { class: 'thumb-img', testid: 'image', attrs: { alt: name, width: w, height: h } });
  const thumb = !!att.thumbnail;
  const url = (pending && pending.localURL) || (att.file_id ? cachedURL(att.file_id, thumb) : '');
  if (url) {
    img.src = url;
  } else if (att.file_id) {
    fileURL(att.file_id, thumb).then((u) => { img.src = u; }, () => {
      img.alt = `${name} (not available)`;
      img.classList.add('broken');
    });
  }
  if (pending) return el('div', { class: 'thumb' }, img);
  return el('button', {
    class: 'thumb', data: { focus: 'open' }, attrs: { type: 'button', 'aria-label': `Open image ${name}` },
    on: { click: () => openImage(att) },
  }, img);
}

/** A file: a card with its name and size; a click downloads it. */
function fileNode(att, pending) {
  const name = att.name || 'file';
  const size = formatSize(att.size);
  const inner = [
    el('span', { class: 'file-icon', text: '📄', attrs: { 'aria-hidden': 'true' } }),
    el('span', { class: 'file-text' },
      el('span', { class: 'file-name', text: name }),
      el('span', { class: 'file-size', text: size })),
  ];
  if (pending) return el('div', { class: 'file-card' }, ...inner);
  return el('button', {
    class: 'file-card', testid: 'file', data: { focus: 'file' },
    attrs: { type: 'button', title: 'Download', 'aria-label': `Download ${name}${size ? ', ' + size : ''}` },
    on: { click: () => download(att).catch((e) => toast(describe(e))) },
  }, ...inner);
}

/** The quote of the message m replies to (as it is now, when it is loaded). */
function quoteNode(r, m) {
  if (!m.reply_to) return null;
  const t = r.msgs.get(m.reply_to);
  const q = t && !isEvent(t) ? t : m.reply;
  if (!q) return null;
  const who = nameOf(q.from);
  const text = summary(q);
  return el('button', {
    class: 'quote', testid: 'quote', data: { focus: 'quote', target: m.reply_to },
    attrs: { type: 'button', title: 'Show the message' },
    on: { click: () => jumpTo(m.reply_to) },
  }, el('span', { class: 'visually-hidden', text: 'In reply to ' }), el('span', { class: 'quote-from', text: who }),
  el('span', { class: 'visually-hidden', text: ': ' }), el('span', { class: 'quote-text', text, attrs: { dir: 'auto' } }));
}

function jumpTo(seq) {
  const li = $('#message-list').querySelector(`li.msg[data-seq="${seq}"]`);
  if (!li) { toast('That message is not shown here: scroll up to load older messages.', 'info'); return; }
  li.scrollIntoView({ block: 'center', behavior: 'smooth' });
  li.classList.add('flash');
  setTimeout(() => li.classList.remove('flash'), 1600);
}

/** The counts of each emoji under a message; mine highlighted, a click toggles mine. */
function reactionsNode(r, m) {
  const rs = Array.isArray(m.reactions) ? m.reactions : [];
  if (!rs.length || m.recalled) return null;
  return el('div', { class: 'reactions', attrs: { role: 'group', 'aria-label': 'Reactions' } },
    ...rs.map((x) => el('button', {
      class: 'reaction' + (x.mine ? ' mine' : ''), testid: 'reaction', data: { emoji: x.emoji, focus: 'r' + x.emoji },
      attrs: {
        type: 'button', 'aria-pressed': String(!!x.mine),
        'aria-label': `${x.emoji} ${x.count} reaction${x.count === 1 ? '' : 's'}`,
        title: x.mine ? 'Remove your reaction' : `React with ${x.emoji}`,
      },
      on: { click: () => toggleReaction(r, m, x.emoji) },
    }, el('span', { class: 'reaction-emoji', text: x.emoji }), el('span', { class: 'reaction-count', text: String(x.count) }))));
}

/** A selector that finds node again after a re-render (see data-focus). */
function focusKey(node) {
  const li = node.closest('li.msg');
  const f = node.dataset && node.dataset.focus;
  if (!li || !f) return null;
  const id = li.dataset.seq ? `[data-seq="${li.dataset.seq}"]` : `[data-cmid="${CSS.escape(li.dataset.cmid || '')}"]`;
  return `li.msg${id} [data-focus="${CSS.escape(f)}"]`;
}

/* ------------------------------------------------------- the message menu */

let menuSeq = 0;

function toggleMessageMenu(r, m, btn) {
  if (menuOpen() && menuSeq === m.seq) { closeMenu(true); return; }
  menuSeq = m.seq;
  const seq = m.seq;
  openMenu(btn, messageActions(r, m), () => $('#message-list').querySelector(`li.msg[data-seq="${seq}"] .msg-actions-btn`));
}

function canRecall(r, m) {
  if (m.from === state.me.id && Date.now() - Date.parse(m.created_at) < RECALL_MS) return true;
  return r.type === 'group' && !!r.group && r.group.owner === state.me.id;
}

function messageActions(r, m) {
  const items = [];
  if (!m.recalled) {
    const rs = Array.isArray(m.reactions) ? m.reactions : [];
    items.push({
      label: 'React',
      row: EMOJI.map((e) => {
        const mine = rs.some((x) => x.emoji === e && x.mine);
        return {
          text: e, testid: 'react-' + e, pressed: mine,
          label: mine ? `Remove your ${e}` : `React with ${e}`, onSelect: () => toggleReaction(r, m, e),
        };
      }),
    });
    items.push({ text: 'Reply', testid: 'action-reply', onSelect: () => startReply(r, m) });
    if (m.from === state.me.id && (m.kind || 'text') === 'text') {
      items.push({ text: 'Edit', testid: 'action-edit', onSelect: () => startEdit(r, m) });
    }
    if (canRecall(r, m)) items.push({ text: 'Recall', testid: 'action-recall', onSelect: () => recallMessage(r, m) });
  }
  items.push({ text: 'Delete for me', testid: 'action-hide', danger: true, onSelect: () => hideMessage(r, m) });
  return items;
}

/** Adds my reaction with emoji, or removes it when it is there. */
function toggleReaction(r, m, emoji) {
  for (const c of changes.values()) {
    if (c.frame.room_id === r.id && c.frame.seq === m.seq && c.frame.emoji === emoji) return; // one at a time
  }
  const mine = (m.reactions || []).some((x) => x.emoji === emoji && x.mine);
  sendChange({ type: mine ? 'unreact' : 'react', room_id: r.id, seq: m.seq, emoji });
}

async function recallMessage(r, m) {
  if (!await confirmBox('Recall this message? It is removed for everyone in the chat.', 'Recall')) return;
  sendChange({ type: 'recall', room_id: r.id, seq: m.seq });
}

async function hideMessage(r, m) {
  if (!await confirmBox('Delete this message for you? The others in the chat still see it.', 'Delete for me')) return;
  markHidden(r, [m.seq]);
  if (!socket.send({ type: 'hide', room_id: r.id, seqs: [m.seq] })) {
    api.hide(r.id, [m.seq]).catch((e) => toast(describe(e)));
  }
}

/** Messages deleted for me (here or on another device) leave the chat. */
function markHidden(r, seqs) {
  for (const s of seqs) {
    r.hidden.add(s);
    const m = r.msgs.get(s);
    if (m) m.hidden = true;
  }
  if (r.last && r.hidden.has(r.last.seq)) {
    let best = null;
    for (const m of r.msgs.values()) if (!isEvent(m) && !m.hidden && (!best || m.seq > best.seq)) best = m;
    r.last = best;
  }
  render('chat list');
}

/* ---------------------------------------------------------------- images */

let lightbox = null; // the attachment the image dialog shows

async function openImage(att) {
  const d = $('#image-dialog');
  const img = $('#image-full');
  lightbox = att;
  $('#image-dialog-title').textContent = att.name || 'Image';
  img.removeAttribute('src');
  img.alt = att.name || 'Image';
  $('#image-status').textContent = 'Loading…';
  openDialog(d);
  try {
    const url = await fileURL(att.file_id);
    if (lightbox !== att) return;
    img.src = url;
    $('#image-status').textContent = '';
  } catch (e) {
    if (lightbox === att) $('#image-status').textContent = describe(e);
  }
}

/* -------------------------------------------------------------- messages */

function viewing() {
  if (!state.current || document.visibilityState !== 'visible') return false;
  return document.body.dataset.screen === 'app';
}

/**
 * Stores a message (from history, or from the socket: live, sync or an ack,
 * which the SDK passes once per seq). Dedupes by seq.
 */
function storeMessage(m, { history = false } = {}) {
  const r = state.rooms.get(m.room_id);
  if (!r) {
    reloadConversations();
    return;
  }
  const wasPending = !!m.client_msg_id && m.from === state.me.id && r.pending.delete(m.client_msg_id);
  if (r.msgs.has(m.seq)) { // dedupe by seq
    if (wasPending) render('list chat');
    return;
  }
  if (r.hidden.has(m.seq)) m.hidden = true;
  r.msgs.set(m.seq, m);
  // A page of history holds every message as it is now: its change
  // events are stored (for the cursor), never applied.
  if (history) return;
  if (m.seq > r.lastSeq) r.lastSeq = m.seq;
  if (isEvent(m)) {
    applyEvent(r, m);
    render(r.id === state.current ? 'list chat' : 'list');
    return;
  }
  if (!m.hidden && (!r.last || m.seq > r.last.seq)) r.last = m;
  if (m.from !== state.me.id && m.seq > r.baseSeq && m.seq > r.readSeq) {
    if (!m.hidden) announceMessage(r, m);
    if (r.id === state.current && viewing()) {
      scheduleRead(r);
    } else {
      r.unread++;
      if (mentions(m, state.me.id)) { r.mentioned = true; r.mentionSeq = m.seq; }
    }
  }
  if (r.type === 'group' && !state.users.has(m.from) && r.id === state.current) loadMembers(r);
  render(r.id === state.current ? 'list chat' : 'list');
}

/** Reads a new message of someone else out through the polite live region. */
function announceMessage(r, m) {
  const who = nameOf(m.from);
  if (r.id === state.current && viewing()) announce(`${who}: ${summary(m)}`);
  else announce(`New message from ${who}${r.type === 'group' ? ' in ' + roomTitle(r) : ''}: ${summary(m)}`);
}

/**
 * Applies a change event received live or by sync to its target, if the
 * target is loaded (a target loaded later comes with its current state).
 */
function applyEvent(r, ev) {
  let t = r.msgs.get(ev.target);
  if (!t && r.last && r.last.seq === ev.target) t = r.last; // the list's preview
  if (!t || isEvent(t)) return;
  applyChange(t, ev, ev.from === state.me.id);
  if (r.last && r.last.seq === t.seq) r.last = t;
}

async function loadHistory(r) {
  if (r.loading) return;
  r.loading = true;
  try {
    const page = await api.history(r.id, 0, PAGE);
    r.loaded = true;
    r.hasMore = page.has_more;
    for (const m of page.messages) storeMessage(m, { history: true });
    loadPeerRead(r, page.messages, state.me.id, api)
      .then((rose) => { if (rose && r.id === state.current) render('chat'); })
      .catch(() => { /* the ticks wait for the next read event */ });
    if (page.messages.length) {
      const first = page.messages[0].seq;
      r.oldest = r.oldest ? Math.min(r.oldest, first) : first;
      const last = page.messages[page.messages.length - 1];
      if (last.seq > r.lastSeq) {
        // Newer than what sync had seen: count it as seen.
        r.lastSeq = last.seq;
        r.baseSeq = Math.max(r.baseSeq, last.seq);
      }
      if (!r.last || last.seq > r.last.seq) r.last = last;
    } else {
      r.hasMore = false;
    }
  } catch (e) {
    toast(describe(e));
  } finally {
    r.loading = false;
  }
  renderChat.bottom = true;
  render('chat list');
  scheduleRead(r);
}

async function loadOlder(r) {
  if (r.loading || !r.hasMore || !r.oldest) return;
  r.loading = true;
  render('chat');
  try {
    const page = await api.history(r.id, r.oldest, PAGE);
    r.hasMore = page.has_more;
    for (const m of page.messages) storeMessage(m, { history: true });
    if (page.messages.length) r.oldest = Math.min(r.oldest, page.messages[0].seq);
    else r.hasMore = false;
  } catch (e) {
    toast(describe(e));
  } finally {
    r.loading = false;
  }
  if (r.id === state.current) renderChat.keep = true;
  render('chat');
}

let readTimer = 0;
function scheduleRead(r) {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => markRead(r), 150);
}

function markRead(r) {
  if (!r || r.id !== state.current || !viewing()) return;
  const seq = r.lastSeq;
  const mentioned = r.mentioned;
  r.mentioned = false;
  if (r.unread === 0 && seq <= r.readSeq) {
    if (mentioned) render('list');
    return;
  }
  r.unread = 0;
  if (seq > r.readSeq) {
    r.readSeq = seq;
    if (!socket.send({ type: 'read', room_id: r.id, seq })) {
      api.read(r.id, seq).catch(() => {});
    }
  }
  render('list');
}

/* ---------------------------------------------------------------- sending */

/**
 * Sends p through the SDK, which repeats it with the same client_msg_id
 * (after unavailable, a lost answer, a reconnect) until its ack.
 */
function trySend(p) {
  if (p.state !== 'pending' || p.inflight) return;
  const f = { type: 'send', room_id: p.room_id, client_msg_id: p.client_msg_id };
  if (p.kind === 'image' || p.kind === 'file') {
    f.kind = p.kind;
    f.file_id = p.file_id;
    if (p.body) f.body = p.body;
  } else {
    f.body = p.body;
  }
  if (p.reply_to) f.reply_to = p.reply_to;
  if (p.mentions && p.mentions.length) f.mentions = p.mentions;
  p.inflight = true;
  socket.request(f).then((m) => {
    p.inflight = false;
    storeMessage(m);
    const r = state.rooms.get(p.room_id);
    if (r && r.pending.delete(p.client_msg_id)) render('chat list');
  }, (e) => {
    p.inflight = false;
    sendFailed(p, e);
  });
}

/** A send the server refused (e: the SDK's IMError). */
function sendFailed(p, e) {
  const r = state.rooms.get(p.room_id);
  if (!r || !r.pending.has(p.client_msg_id) || e.code === 'closed' || e.code === 'aborted') return;
  p.state = 'failed';
  p.error = e.code === 'payload_too_large'
    ? `the message is too long (the limit is ${MAX_BODY} characters).`
    : e.code === 'forbidden' && !/muted|owner and admins/.test(e.message || '') ? 'you can no longer write in this chat.'
      : (e.message || e.code);
  if (r.id === state.current) composerError('Your message was not sent: ' + p.error);
  render('chat');
}

/** A new pending message in r, shown at once and sent when it can be. */
function newPending(r, { body = '', kind = 'text', replyTo = 0, mentionIDs = [] } = {}) {
  const p = {
    client_msg_id: randomID(), room_id: r.id, from: state.me.id, body, kind,
    created_at: new Date().toISOString(), state: 'pending', error: '', inflight: false,
  };
  if (replyTo) {
    p.reply_to = replyTo;
    const t = r.msgs.get(replyTo);
    if (t) p.reply = { seq: t.seq, from: t.from, kind: t.kind, body: t.body };
  }
  if (mentionIDs.length) p.mentions = mentionIDs;
  r.pending.set(p.client_msg_id, p);
  return p;
}

function retryPending(r, p) {
  p.error = '';
  if (p.file && !p.file_id) {
    startUpload(r, p);
  } else {
    p.state = 'pending';
    trySend(p);
  }
  render('chat');
}

function dropPending(r, p) {
  r.pending.delete(p.client_msg_id);
  socket.cancel(p.client_msg_id);
  if (p.localURL && !p.file_id) URL.revokeObjectURL(p.localURL);
  render('chat list');
}

// Changes to messages (edit, recall, react, unreact): through the SDK,
// which repeats each with its client_msg_id until the ack (no duplicate).
// In flight, by client_msg_id: {frame}.
const changes = new Map();

function sendChange(frame) {
  const c = { frame: { ...frame, client_msg_id: randomID('chg') } };
  const id = c.frame.client_msg_id;
  changes.set(id, c);
  socket.request(c.frame).then((m) => {
    changes.delete(id);
    storeMessage(m);
  }, (e) => {
    if (!changes.delete(id)) return; // signed out meanwhile
    changeFailed(frame, e);
  });
}

function changeFailed(frame, e) {
  if (e.code === 'closed' || e.code === 'aborted') return;
  const t = frame.type;
  // A reaction that is there already (or gone already): nothing to say.
  if ((t === 'react' && e.code === 'conflict') || (t === 'unreact' && e.code === 'not_found')) return;
  const what = { edit: 'edit', recall: 'recall', react: 'react to', unreact: 'remove your reaction from' }[t] || t;
  const why = e.message || e.code;
  toast(`Could not ${what} the message: ${why}${/[.!?]$/.test(why) ? '' : '.'}`);
}

function composerError(msg) {
  say($('#composer-error'), msg);
}

function sendFromComposer() {
  const r = state.current && state.rooms.get(state.current);
  if (!r) return;
  closeMentions();
  const input = $('#composer-input');
  const body = input.value;
  if (!body.trim()) {
    composerError('Write something first: the message is empty.');
    input.focus();
    return;
  }
  presence.stop();
  const n = codepoints(body);
  if (n > MAX_BODY) {
    composerError(`Your message is too long: ${n} characters. The limit is ${MAX_BODY}.`);
    return;
  }
  composerError('');
  const mode = composer.mode && composer.mode.room === r.id ? composer.mode : null;
  if (mode && mode.kind === 'edit') {
    const t = r.msgs.get(mode.seq);
    if (t && !t.recalled && t.body !== body) sendChange({ type: 'edit', room_id: r.id, seq: mode.seq, body });
    cancelMode();
    input.focus();
    return;
  }
  const p = newPending(r, { body, replyTo: mode ? mode.seq : 0, mentionIDs: takeMentions(r, body) });
  setMode(null);
  input.value = '';
  r.draft = '';
  updateCount();
  trySend(p);
  renderChat.bottom = true;
  render('chat list');
}

/* ------------------------------------------------------------ attachments */

/** Uploads each file (button, drop, paste) and sends it as an image or a file message. */
function attachFiles(files) {
  const r = state.current && state.rooms.get(state.current);
  if (!r || !files.length) return;
  const mode = composer.mode && composer.mode.kind === 'reply' && composer.mode.room === r.id ? composer.mode : null;
  for (const file of files) {
    const image = /^image\//.test(file.type);
    const p = newPending(r, { kind: image ? 'image' : 'file', replyTo: mode ? mode.seq : 0 });
    p.file = file;
    p.attachment = { name: file.name || 'file', size: file.size, content_type: file.type };
    if (image) {
      // Shown from the local copy while it uploads (and after).
      p.localURL = URL.createObjectURL(file);
      const im = new Image();
      im.onload = () => {
        p.attachment.width = im.naturalWidth;
        p.attachment.height = im.naturalHeight;
        render('chat');
      };
      im.src = p.localURL;
    }
    startUpload(r, p);
  }
  if (mode) setMode(null);
  renderChat.bottom = true;
  render('chat list');
}

function startUpload(r, p) {
  p.state = 'uploading';
  p.progress = 0;
  const up = upload(r.id, p.file, (f) => { p.progress = f; paintProgress(p); });
  p.abort = up.abort;
  up.promise.then((f) => {
    p.abort = null;
    if (!r.pending.has(p.client_msg_id)) return;
    const image = /^image\//.test(f.content_type || '') && f.width > 0;
    p.kind = image ? 'image' : 'file';
    p.file_id = f.file_id;
    p.attachment = f;
    if (image && p.localURL) seedURL(f.file_id, p.localURL);
    p.state = 'pending';
    trySend(p);
    render('chat list');
  }, (e) => {
    p.abort = null;
    if (e.code === 'aborted') { dropPending(r, p); return; }
    p.state = 'failed';
    p.error = e.code === 'payload_too_large' ? 'the file is larger than the upload limit.' : describe(e);
    if (r.id === state.current) composerError(`${p.attachment.name} was not sent: ${p.error}`);
    render('chat');
  });
}

/** Moves an upload's progress bar without re-rendering the chat. */
function paintProgress(p) {
  const bar = $('#message-list').querySelector(`li[data-cmid="${CSS.escape(p.client_msg_id)}"] progress`);
  if (bar) bar.value = Math.round(p.progress * 100);
}

/* ------------------------------------------------- reply, edit, mentions */

// The composer's mode: null, or {kind: 'reply'|'edit', room, seq}; the
// draft an edit put aside; the members picked from the @ list (name -> id).
const composer = { mode: null, savedDraft: '', mentions: new Map() };

function setMode(mode) {
  composer.mode = mode;
  const bar = $('#composer-context');
  if (!mode) { show(bar, false); return; }
  const r = state.rooms.get(mode.room);
  const t = r && r.msgs.get(mode.seq);
  const who = t && t.from === state.me.id ? 'yourself' : nameOf(t ? t.from : '');
  $('#composer-context-title').textContent = mode.kind === 'edit' ? 'Edit message' : `Reply to ${who}`;
  $('#composer-context-body').textContent = t ? summary(t) : '';
  bar.dataset.kind = mode.kind;
  show(bar);
}

function startReply(r, m) {
  cancelMode();
  setMode({ kind: 'reply', room: r.id, seq: m.seq });
  $('#composer-input').focus();
}

function startEdit(r, m) {
  const input = $('#composer-input');
  cancelMode();
  composer.savedDraft = input.value;
  setMode({ kind: 'edit', room: r.id, seq: m.seq });
  input.value = m.body;
  updateCount();
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

/** Leaves reply or edit mode (an edit gives the draft back); whether it was in one. */
function cancelMode() {
  if (!composer.mode) return false;
  const edit = composer.mode.kind === 'edit';
  setMode(null);
  if (edit) {
    $('#composer-input').value = composer.savedDraft;
    composer.savedDraft = '';
    updateCount();
  }
  return true;
}

/** The ids of the members picked from the @ list whose @name is still in body. */
function takeMentions(r, body) {
  const ids = new Set();
  if (r.type === 'group') {
    for (const [name, id] of composer.mentions) if (body.includes('@' + name)) ids.add(id);
  }
  composer.mentions.clear();
  return [...ids];
}

// The @ list: the group's members whose name starts or contains what
// follows the @ before the caret.
const mention = { items: [], index: 0, start: -1 };

function updateMentions() {
  const r = state.current && state.rooms.get(state.current);
  const input = $('#composer-input');
  if (!r || r.type !== 'group' || (composer.mode && composer.mode.kind === 'edit')) { closeMentions(); return; }
  const before = input.value.slice(0, input.selectionStart);
  const hit = /(^|\s)@([^\s@]{0,32})$/u.exec(before);
  if (!hit) { closeMentions(); return; }
  if (!r.members) {
    if (!r.membersLoading) loadMembers(r).then(() => { if (r.members && document.activeElement === input) updateMentions(); });
    return;
  }
  const q = hit[2].toLowerCase();
  const score = (u) => {
    const names = [u.nickname || '', u.account || ''].map((x) => x.toLowerCase());
    if (names.some((x) => x.startsWith(q))) return 2;
    return names.some((x) => x.includes(q)) ? 1 : 0;
  };
  const items = r.members.filter((u) => u.id !== state.me.id && score(u) > 0)
    .sort((a, b) => score(b) - score(a)).slice(0, 8)
    .map((u) => ({ id: u.id, name: u.nickname || u.account, account: u.account }));
  if (r.group && r.group.owner === state.me.id && 'all'.startsWith(q)) items.push({ id: '@all', name: 'all', account: '' });
  if (!items.length) { closeMentions(); return; }
  mention.items = items;
  mention.index = Math.min(mention.index, items.length - 1);
  mention.start = before.length - hit[2].length - 1;
  paintMentions();
}

function paintMentions() {
  const ul = $('#mention-list');
  const input = $('#composer-input');
  ul.replaceChildren(...mention.items.map((c, i) => el('li', {
    id: 'mention-opt-' + i, class: 'mention-opt' + (i === mention.index ? ' active' : ''), testid: 'mention-option',
    attrs: { role: 'option', 'aria-selected': String(i === mention.index) },
    on: {
      mousedown: (e) => e.preventDefault(), // keep the focus in the textarea
      click: () => pickMention(i),
    },
  },
  c.id === '@all' ? el('span', { class: 'avatar small group', text: '@', attrs: { 'aria-hidden': 'true' } }) : newAvatar(c.name, c.id, 'small'),
  el('span', { text: c.id === '@all' ? 'Everyone' : c.name }),
  el('span', { class: 'muted small', text: c.id === '@all' ? ' @all' : ' @' + c.account }))));
  show(ul);
  input.setAttribute('aria-activedescendant', 'mention-opt-' + mention.index);
}

function closeMentions() {
  if ($('#mention-list').hidden) return false;
  show($('#mention-list'), false);
  mention.items = [];
  mention.index = 0;
  const input = $('#composer-input');
  input.removeAttribute('aria-activedescendant');
  return true;
}

function pickMention(i) {
  const c = mention.items[i];
  if (!c) return;
  const input = $('#composer-input');
  const v = input.value;
  const text = '@' + c.name + ' ';
  input.value = v.slice(0, mention.start) + text + v.slice(input.selectionStart);
  const caret = mention.start + text.length;
  input.setSelectionRange(caret, caret);
  composer.mentions.set(c.name, c.id);
  closeMentions();
  updateCount();
  input.focus();
}

// An Enter the composer used (to send, to pick a name) inserts no line
// break, even where the browser's text input does not honour the
// keydown's preventDefault (some synthetic and IME input).
let enterUsed = false;

/** Keys of the composer: the @ list, Escape (leave reply/edit), Enter sends. */
function composerKey(e) {
  enterUsed = false;
  if (!$('#mention-list').hidden && mention.items.length) {
    const n = mention.items.length;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      mention.index = (mention.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      paintMentions();
      return;
    }
    if ((e.key === 'Enter' || e.key === 'Tab') && !e.isComposing) {
      e.preventDefault();
      enterUsed = e.key === 'Enter';
      pickMention(mention.index);
      return;
    }
  }
  if (e.key === 'Escape') {
    if (closeMentions() || cancelMode()) { e.preventDefault(); e.stopPropagation(); }
    return;
  }
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    enterUsed = true;
    sendFromComposer();
  }
}

function updateCount() {
  const input = $('#composer-input');
  const n = codepoints(input.value);
  const c = $('#composer-count');
  show(c, n > MAX_BODY - 500);
  c.textContent = `${n} / ${MAX_BODY}`;
  c.classList.toggle('over', n > MAX_BODY);
  input.classList.toggle('over', n > MAX_BODY);
  // Grow with the text, up to the CSS max-height.
  input.style.height = 'auto';
  input.style.height = Math.min(input.scrollHeight, 160) + 'px';
}

/* ------------------------------------------------------ the socket frames */

/** A message from the socket (live, sync or an ack), once per room and seq. */
function onMessage(m, { ack }) {
  storeMessage(m);
  if (!ack) presence.onMessage(m.room_id, m.from);
}

// Frames besides messages (acks, synced and sync's follow-ups are the SDK's).
function onFrame(f) {
  switch (f.type) {
    case 'event':
      onEvent(f.event, f.data || {});
      break;
    case 'error':
      onError(f);
      break;
    default: // frames of later versions
  }
}

function onError(f) {
  if (f.client_msg_id) return; // a send's or a change's: its promise (trySend, sendChange)
  if (f.code === 'forbidden' || f.code === 'not_found') reloadConversations();
}

function onEvent(name, data) {
  switch (name) {
    case 'presence':
      presence.onPresence(data);
      break;
    case 'typing':
      presence.onTyping(data);
      break;
    case 'friend_request': {
      const rq = data.request;
      if (rq && !state.incoming.some((x) => x.id === rq.id)) {
        state.incoming.push(rq);
        remember(rq.from);
        render('requests');
        toast(`${rq.from.nickname || rq.from.account} wants to be your friend.`, 'info');
      }
      reloadRequests();
      break;
    }
    case 'friend_added':
      if (data.user) {
        remember(data.user);
        toast(`You and ${data.user.nickname || data.user.account} are now friends.`, 'info');
        if (lastFound && lastFound.id === data.user.id) showFound(lastFound.account, true);
      }
      reloadRequests();
      reloadConversations();
      break;
    case 'group_admin':
      groupSettingsChanged(data.room_id);
      break;
    case 'friend_removed':
      if (lastFound && lastFound.id === data.user_id) showFound(lastFound.account, true);
    // fall through
    case 'group_left':
      if ((data.room_id || data.group_id) === state.current) closeGroupSettings();
      dropRoom(data.room_id || data.group_id, name === 'group_left' && data.disbanded ? 'The group was disbanded.' : '');
      reloadConversations();
      break;
    case 'group_joined':
    case 'group_updated': {
      const g = data.group;
      const r = g && state.rooms.get(g.id);
      if (r) {
        r.group = { ...r.group, ...g };
        if (r.id === state.current) loadMembers(r);
        render('list chat');
      }
      reloadConversations();
      break;
    }
    case 'read': { // read receipts (receipts.js)
      const r = state.rooms.get(data.room_id);
      if (applyRead(r, data, state.me.id) && r.id === state.current) render('chat');
      break;
    }
    case 'read_counts': {
      const r = state.rooms.get(data.room_id);
      if (applyReadCounts(r, data) && r.id === state.current) render('chat');
      break;
    }
    case 'messages_hidden': { // deleted for me, here or on another device
      const r = state.rooms.get(data.room_id);
      if (r && Array.isArray(data.seqs)) markHidden(r, data.seqs);
      break;
    }
    // resync: the SDK syncs the room (or every room) from its cursor.
    default: // events of later versions
  }
}

function dropRoom(id, why) {
  if (!id || !state.rooms.has(id)) return;
  state.rooms.delete(id);
  socket.untrack(id);
  if (state.current === id) {
    state.current = null;
    if (why) toast(why, 'info');
  }
  render('list chat');
}

function onOpen() {
  // Every (re)connect: the SDK syncs every room it tracks and resends what
  // was not acknowledged; reload the lists (events may have been missed).
  reloadConversations();
  reloadRequests();
}

function onSocketState(s) {
  document.body.dataset.conn = s;
  const dot = $('#conn-status');
  dot.dataset.state = s;
  const titles = { open: 'Connected', connecting: 'Connecting…', reconnecting: 'Reconnecting…', closed: 'Offline' };
  dot.title = titles[s] || s;
  const banner = $('#banner');
  clearTimeout(onSocketState.t);
  if (s === 'reconnecting') {
    banner.textContent = 'Connection lost. Reconnecting…';
    banner.dataset.kind = 'warn';
    show(banner);
  } else if (s === 'open' && !banner.hidden) {
    banner.textContent = 'Connected again.';
    banner.dataset.kind = 'ok';
    onSocketState.t = setTimeout(() => show(banner, false), 1500);
  } else if (s !== 'open') {
    show(banner, false);
  }
}

/* ------------------------------------------------------------ REST lists */

// One reload at a time; a call made while one runs gets the next one, so
// its answer is never older than the call.
let convChain = Promise.resolve();
let convQueued = null;

function reloadConversations() {
  if (convQueued) return convQueued;
  convQueued = convChain.then(() => { convQueued = null; return doReloadConversations(); });
  convChain = convQueued.catch(() => {});
  return convQueued;
}

async function doReloadConversations() {
  if (!state.me) return;
  try {
    const { conversations } = await api.conversations();
    if (!state.me) return;
    const seen = new Set();
    for (const c of conversations) {
      seen.add(c.room_id);
      if (c.peer) remember(c.peer);
      let r = state.rooms.get(c.room_id);
      if (!r) {
        r = newRoom(c);
        state.rooms.set(r.id, r);
        socket.track(r.id, c.last_seq || 0); // synced from there (now, and after every reconnect)
        continue;
      }
      r.peer = c.peer || r.peer;
      r.group = c.group ? { ...r.group, ...c.group } : r.group;
      r.readSeq = Math.max(r.readSeq, c.read_seq || 0);
      const base = c.last_seq || 0;
      // Unread: the server's count, plus what arrived live after its answer.
      let extra = 0;
      for (const m of r.msgs.values()) {
        if (m.seq > base && m.seq > r.readSeq && m.from !== state.me.id && !isEvent(m) && !m.hidden) extra++;
      }
      r.unread = (r.readSeq >= base ? 0 : (c.unread || 0)) + extra;
      r.mentioned = (!!c.mentioned && r.readSeq < base) || r.mentionSeq > Math.max(base, r.readSeq);
      r.baseSeq = Math.max(r.baseSeq, base);
      if (c.last_message && (!r.last || c.last_message.seq > r.last.seq)) r.last = c.last_message;
    }
    for (const id of [...state.rooms.keys()]) {
      if (!seen.has(id)) dropRoom(id, 'This chat is no longer available.');
    }
    state.convLoaded = true;
    if (state.current) scheduleRead(state.rooms.get(state.current));
    render('list chat');
    presence.load([...state.rooms.values()].map((r) => r.peer && r.peer.id));
  } catch (e) {
    if (e.code !== 'unauthenticated') toast(describe(e));
  }
}

// Like the conversations: one reload at a time, and an answer that a
// local change (accept, decline) made stale is thrown away and asked again.
let reqChain = Promise.resolve();
let reqQueued = null;
let reqGen = 0;

function reloadRequests() {
  if (reqQueued) return reqQueued;
  reqQueued = reqChain.then(() => { reqQueued = null; return doReloadRequests(); });
  reqChain = reqQueued.catch(() => {});
  return reqQueued;
}

async function doReloadRequests() {
  if (!state.me) return;
  const gen = reqGen;
  try {
    const { incoming, outgoing } = await api.friendRequests();
    if (!state.me) return;
    if (gen !== reqGen) { reloadRequests(); return; }
    state.incoming = incoming || [];
    state.outgoing = outgoing || [];
    for (const rq of state.incoming) remember(rq.from);
    render('requests');
  } catch (e) {
    if (e.code !== 'unauthenticated') toast(describe(e));
  }
}

async function loadMembers(r) {
  if (r.type !== 'group' || r.membersLoading) return;
  r.membersLoading = true;
  try {
    const { group } = await api.group(r.id);
    r.members = group.members || [];
    for (const u of r.members) remember(u);
    r.group = { ...r.group, ...group, members: undefined };
    // Senders no longer in the group: ask again who they are now (a
    // deleted account is shown as "Deleted user").
    const inGroup = new Set(r.members.map((u) => u.id));
    const gone = new Set();
    for (const m of r.msgs.values()) if (!inGroup.has(m.from)) gone.add(m.from);
    if (r.last && !inGroup.has(r.last.from)) gone.add(r.last.from);
    resolveUsers([...gone], true);
    render('chat list');
  } catch (e) {
    if (e.code === 'forbidden' || e.code === 'not_found') reloadConversations();
  } finally {
    r.membersLoading = false;
  }
}

async function answerRequest(rq, accept, btn) {
  btn.disabled = true;
  try {
    if (accept) {
      const { friend } = await api.accept(rq.id);
      if (friend) remember(friend.user);
      await reloadConversations();
      if (friend && friend.room_id) openRoom(friend.room_id);
    } else {
      await api.decline(rq.id);
    }
    reqGen++;
    state.incoming = state.incoming.filter((x) => x.id !== rq.id);
    render('requests');
  } catch (e) {
    btn.disabled = false;
    toast(describe(e));
    reloadRequests();
  }
}

/* ------------------------------------------------------------- the chat UI */

function openRoom(id) {
  const r = state.rooms.get(id);
  if (!r) return;
  const prev = state.current && state.rooms.get(state.current);
  if (prev !== r) leaveComposer();
  if (prev && prev !== r) prev.draft = $('#composer-input').value;
  state.current = id;
  composerError('');
  $('#composer-input').value = r.draft || '';
  updateCount();
  renderChat.bottom = true;
  render('list chat');
  if (!r.loaded) loadHistory(r);
  else scheduleRead(r);
  if (r.type === 'group') loadMembers(r);
  // After the render (the chat pane may be hidden until then).
  if (window.matchMedia('(min-width: 760px)').matches) queueMicrotask(() => $('#composer-input').focus());
}

/** Closes what belongs to the open chat: the menu, the @ list, reply or edit mode. */
function leaveComposer() {
  presence.stop();
  closeMenu(false);
  closeMentions();
  cancelMode();
  composer.mentions.clear();
}

function closeRoom() {
  const r = state.current && state.rooms.get(state.current);
  leaveComposer();
  if (r) r.draft = $('#composer-input').value;
  state.current = null;
  render('list chat');
}

/* --------------------------------------------------------- find & friends */

let lastFound = null; // {id, account} of the user the find box shows

async function findUser(e) {
  e.preventDefault();
  await showFound($('#find-account').value.trim().toLowerCase(), false);
}

/** Shows what the find box knows about account (quiet: no "Looking…"). */
async function showFound(account, quiet) {
  const box = $('#find-result');
  lastFound = null;
  if (!quiet) clear(box);
  if (!account) {
    box.append(el('p', { class: 'form-error', text: 'Type an account to look for.' }));
    show(box);
    return;
  }
  if (!quiet) box.append(el('p', { class: 'muted small', text: 'Looking…' }));
  show(box);
  let u;
  try {
    u = await api.user(account);
  } catch (err) {
    if (!state.me) return; // signed out meanwhile
    if (quiet) { show(box, false); return; }
    clear(box);
    box.append(el('p', {
      class: 'form-error',
      text: err.code === 'not_found' ? `No one has the account “${account}”.` : describe(err),
    }));
    return;
  }
  if (!state.me) return;
  remember(u);
  clear(box);
  lastFound = { id: u.id, account: u.account };
  const name = u.nickname || u.account;
  const status = el('p', { class: 'small find-status', id: 'find-status' });
  const actions = el('div', { class: 'find-actions' });
  if (u.id === state.me.id) {
    status.textContent = 'That is you.';
  } else if (u.is_friend) {
    status.textContent = 'Already your friend.';
    actions.append(el('button', {
      class: 'primary small-btn', id: 'find-open', text: 'Message', attrs: { type: 'button' },
      on: { click: () => { const r = [...state.rooms.values()].find((x) => x.peer && x.peer.id === u.id); if (r) openRoom(r.id); } },
    }));
  } else if (state.outgoing.some((rq) => rq.to.id === u.id)) {
    status.textContent = 'Friend request sent; waiting for an answer.';
  } else {
    status.textContent = 'Not your friend yet.';
    const add = el('button', { class: 'primary small-btn', id: 'find-add', text: 'Add friend', attrs: { type: 'button' } });
    add.addEventListener('click', async () => {
      add.disabled = true;
      try {
        const a = await api.sendFriendRequest(u.account, '');
        if (a.friend) {
          status.textContent = 'They had asked you already: you are now friends.';
          await reloadConversations();
        } else {
          status.textContent = 'Friend request sent.';
          reloadRequests();
        }
        add.remove();
      } catch (err) {
        add.disabled = false;
        status.textContent = describe(err);
        status.classList.add('form-error');
      }
    });
    actions.append(add);
  }
  if (u.id !== state.me.id) {
    let blocked = false;
    try {
      blocked = ((await api.blocks()).blocks || []).some((b) => b.user.id === u.id);
    } catch { /* shown as not blocked; the button answers */ }
    if (!state.me || lastFound === null || lastFound.id !== u.id) return;
    const place = el('span');
    const make = (isBlocked) => blockButton(u, isBlocked, api, (now, err) => {
      if (err) { toast(describe(err), 'error'); return; }
      toast(now ? `You blocked ${name}.` : `You unblocked ${name}.`, 'info');
      place.replaceChildren(make(now));
    });
    place.append(make(blocked));
    actions.append(place);
  }
  actions.append(el('button', {
    class: 'close-btn', text: '×', id: 'find-close', attrs: { type: 'button', 'aria-label': 'Close', title: 'Close' },
    on: { click: () => { lastFound = null; clear(box); show(box, false); } },
  }));
  box.append(el('div', { class: 'find-card', testid: 'find-card' },
    newAvatar(name, u.id),
    el('div', { class: 'find-main' },
      el('strong', { text: name }),
      el('span', { class: 'muted small', text: ' @' + u.account }),
      status),
    actions));
}

function confirmBox(text, ok = 'OK') {
  const d = $('#confirm-dialog');
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = ok;
  d.returnValue = '';
  openDialog(d);
  return new Promise((resolve) => {
    const done = () => {
      if (d.open) return; // the close event of an earlier round, late
      d.removeEventListener('close', done);
      resolve(d.returnValue === 'ok');
    };
    d.addEventListener('close', done);
  });
}

/* ------------------------------------------------------------------ groups */

let groupMode = { kind: 'create', room: null };

async function openGroupDialog(kind) {
  const r = kind === 'add' ? state.rooms.get(state.current) : null;
  groupMode = { kind, room: r };
  const d = $('#group-dialog');
  $('#group-dialog-title').textContent = kind === 'add' ? `Add members to ${roomTitle(r)}` : 'New group';
  show($('#group-name-row'), kind === 'create');
  $('#group-create').textContent = kind === 'add' ? 'Add' : 'Create';
  $('#group-name').value = '';
  say($('#group-error'), '');
  const ul = $('#group-friends');
  clear(ul);
  ul.append(el('li', { class: 'muted small', text: 'Loading your friends…' }));
  openDialog(d);
  try {
    if (r && !r.members) await loadMembers(r);
    const { friends } = await api.friends();
    const inGroup = new Set(r && r.members ? r.members.map((u) => u.id) : []);
    const list = friends.filter((f) => !inGroup.has(f.user.id));
    clear(ul);
    if (!list.length) {
      ul.append(el('li', {
        class: 'muted small',
        text: kind === 'add' ? 'All your friends are already in this group.' : 'No friends to add yet. You can create the group alone and add friends later.',
      }));
    }
    for (const f of list) {
      remember(f.user);
      const name = f.user.nickname || f.user.account;
      const id = 'pick-' + f.user.account;
      ul.append(el('li', {},
        el('label', { class: 'pick', attrs: { for: id } },
          el('input', { id, attrs: { type: 'checkbox', value: f.user.account }, data: { account: f.user.account } }),
          newAvatar(name, f.user.id, 'small'),
          el('span', { text: name }),
          el('span', { class: 'muted small', text: ' @' + f.user.account }))));
    }
  } catch (e) {
    clear(ul);
    say($('#group-error'), describe(e));
  }
  if (kind === 'create') $('#group-name').focus();
}

async function submitGroup(e) {
  e.preventDefault();
  const accounts = [...document.querySelectorAll('#group-friends input:checked')].map((i) => i.value);
  const btn = $('#group-create');
  if (groupMode.kind === 'create') {
    const name = $('#group-name').value.trim();
    if (!name) { say($('#group-error'), 'Give the group a name.'); $('#group-name').focus(); return; }
    btn.disabled = true;
    try {
      const { group } = await api.createGroup(name, accounts);
      $('#group-dialog').close();
      await reloadConversations();
      openRoom(group.id);
    } catch (err) {
      say($('#group-error'), describe(err));
    } finally {
      btn.disabled = false;
    }
  } else {
    if (!accounts.length) { say($('#group-error'), 'Pick at least one friend to add.'); return; }
    const r = groupMode.room;
    btn.disabled = true;
    try {
      const { group } = await api.addMembers(r.id, accounts);
      r.group = { ...r.group, ...group };
      $('#group-dialog').close();
      loadMembers(r);
      render('chat list');
    } catch (err) {
      say($('#group-error'), describe(err));
    } finally {
      btn.disabled = false;
    }
  }
}

async function leaveOrDisband() {
  const r = state.current && state.rooms.get(state.current);
  if (!r || r.type !== 'group') return;
  const owner = r.group && r.group.owner === state.me.id;
  const ok = await confirmBox(owner
    ? `Disband “${roomTitle(r)}” for everyone? Nobody will be able to read it any more.`
    : `Leave “${roomTitle(r)}”?`, owner ? 'Disband' : 'Leave');
  if (!ok) return;
  try {
    if (owner) await api.disband(r.id);
    else await api.removeMember(r.id, state.me.account);
    dropRoom(r.id, '');
  } catch (e) {
    toast(describe(e));
  }
}

async function unfriend() {
  const r = state.current && state.rooms.get(state.current);
  if (!r || !r.peer) return;
  const ok = await confirmBox(`Remove ${roomTitle(r)} from your friends? You will not be able to write to each other any more.`, 'Remove');
  if (!ok) return;
  try {
    await api.deleteFriend(r.peer.account);
    dropRoom(r.id, '');
  } catch (e) {
    toast(describe(e));
  }
}

/* ----------------------------------------------------------------- notices */

function toast(msg, kind = 'error') {
  const t = $('#toast');
  t.textContent = msg;
  t.dataset.kind = kind;
  show(t);
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => show(t, false), kind === 'error' ? 6000 : 4000);
}

/* ---------------------------------------------------------- signing in/out */

/** Shows one of the signed-out forms: 'login', 'register' or 'reset'. */
function showTab(which) {
  const login = which === 'login';
  const reg = which === 'register';
  $('#tab-login').classList.toggle('active', login);
  $('#tab-register').classList.toggle('active', reg);
  $('#tab-login').setAttribute('aria-selected', String(login));
  $('#tab-register').setAttribute('aria-selected', String(reg));
  show($('#auth-tabs'), which !== 'reset');
  show($('#login-form'), login);
  show($('#register-form'), reg);
  show($('#reset-form'), which === 'reset');
  if (!login) notice('');
  ({ login: $('#login-login'), register: $('#reg-email'), reset: $('#reset-email') })[which].focus();
}

/** A message above the login form: why the user is signed out, or news. */
function notice(msg, kind = 'warn') {
  const n = $('#login-notice');
  n.dataset.kind = kind;
  say(n, msg);
}

/** Counts down on a "Send code" button before it can send again. */
const cooldowns = new Map(); // button -> interval
function cooldown(btn, left = 60) {
  clearInterval(cooldowns.get(btn));
  btn.disabled = true;
  btn.textContent = `Resend (${left})`;
  cooldowns.set(btn, setInterval(() => {
    left--;
    if (left > 0) { btn.textContent = `Resend (${left})`; return; }
    endCooldown(btn, 'Send again');
  }, 1000));
}

function endCooldown(btn, label = 'Send code') {
  clearInterval(cooldowns.get(btn));
  cooldowns.delete(btn);
  btn.textContent = label;
  btn.disabled = false;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

function markInvalid(ids) {
  for (const inp of document.querySelectorAll('#auth input')) inp.removeAttribute('aria-invalid');
  for (const id of ids) $('#' + id).setAttribute('aria-invalid', 'true');
  if (ids.length) $('#' + ids[0]).focus();
}

async function doLogin(e) {
  e.preventDefault();
  const login = $('#login-login').value.trim();
  const password = $('#login-password').value;
  const missing = [];
  if (!login) missing.push(['login-login', 'account or email']);
  if (!password) missing.push(['login-password', 'password']);
  if (missing.length) {
    markInvalid(missing.map((m) => m[0]));
    say($('#login-error'), 'Please enter your ' + missing.map((m) => m[1]).join(' and ') + '.');
    return;
  }
  markInvalid([]);
  say($('#login-error'), '');
  notice('');
  const btn = $('#login-submit');
  btn.disabled = true;
  try {
    adopt(await api.login(login, password));
    $('#login-password').value = '';
    startApp();
  } catch (err) {
    say($('#login-error'), describe(err, 'login'));
  } finally {
    btn.disabled = false;
  }
}

async function sendCode() {
  const email = $('#reg-email').value.trim();
  const info = $('#register-info');
  say(info, '');
  if (!email || !EMAIL_RE.test(email)) {
    markInvalid(['reg-email']);
    say($('#register-error'), email ? 'That does not look like an email address.' : 'Enter your email address first, then ask for a code.');
    return;
  }
  markInvalid([]);
  say($('#register-error'), '');
  const btn = $('#reg-send-code');
  btn.disabled = true;
  try {
    await api.emailCode(email);
    say(info, `We sent a 6-digit code to ${email}. It is valid for 10 minutes.`);
    cooldown(btn);
    $('#reg-code').focus();
  } catch (err) {
    btn.disabled = false;
    say($('#register-error'), describe(err));
  }
}

async function doRegister(e) {
  e.preventDefault();
  const v = (id) => $('#' + id).value.trim();
  const b = {
    email: v('reg-email'), code: v('reg-code'), account: v('reg-account'),
    password: $('#reg-password').value, nickname: v('reg-nickname'),
  };
  const err = $('#register-error');
  const missing = [];
  if (!b.email) missing.push(['reg-email', 'email']);
  if (!b.code) missing.push(['reg-code', 'code']);
  if (!b.account) missing.push(['reg-account', 'account']);
  if (!b.password) missing.push(['reg-password', 'password']);
  if (missing.length) {
    markInvalid(missing.map((m) => m[0]));
    say(err, 'Please fill in: ' + missing.map((m) => m[1]).join(', ') + '.');
    return;
  }
  if (!/^\d{6}$/.test(b.code)) { markInvalid(['reg-code']); say(err, 'The code is the 6 digits from the email.'); return; }
  if (!ACCOUNT_RE.test(b.account)) {
    markInvalid(['reg-account']);
    say(err, 'The account must be 3-32 characters: lower-case letters, digits, _ . or -.');
    return;
  }
  if (codepoints(b.password) < 8) { markInvalid(['reg-password']); say(err, 'The password must be at least 8 characters.'); return; }
  markInvalid([]);
  say(err, '');
  const btn = $('#reg-submit');
  btn.disabled = true;
  try {
    adopt(await api.register(b));
    $('#reg-password').value = '';
    $('#reg-code').value = '';
    startApp();
  } catch (e2) {
    if (e2.code === 'invalid_argument' && /code/i.test(e2.message)) {
      markInvalid(['reg-code']);
      say(err, 'That code is wrong or has expired. Check the email, or send a new code.');
    } else {
      if (e2.code === 'conflict') markInvalid([/email/i.test(e2.message) ? 'reg-email' : 'reg-account']);
      say(err, describe(e2));
    }
  } finally {
    btn.disabled = false;
  }
}

/* ------------------------------------------------------- forgot password */

function openReset() {
  const typed = $('#login-login').value.trim();
  if (EMAIL_RE.test(typed) && !$('#reset-email').value) $('#reset-email').value = typed;
  say($('#reset-error'), '');
  markInvalid([]);
  showTab('reset');
}

async function sendResetCode() {
  const email = $('#reset-email').value.trim();
  const info = $('#reset-info');
  const err = $('#reset-error');
  say(info, '');
  if (!EMAIL_RE.test(email)) {
    markInvalid(['reset-email']);
    say(err, email ? 'That does not look like an email address.' : 'Enter the email address of your account first.');
    return;
  }
  markInvalid([]);
  say(err, '');
  const btn = $('#reset-send-code');
  btn.disabled = true;
  try {
    await api.passwordReset(email);
    // The server does not tell whether an account has the address.
    say(info, `If an account uses ${email}, we sent a 6-digit code to it. It is valid for 10 minutes.`);
    cooldown(btn);
    $('#reset-code').focus();
  } catch (e) {
    btn.disabled = false;
    say(err, describe(e));
  }
}

async function doReset(e) {
  e.preventDefault();
  const email = $('#reset-email').value.trim();
  const code = $('#reset-code').value.trim();
  const password = $('#reset-password').value;
  const err = $('#reset-error');
  const missing = [];
  if (!email) missing.push(['reset-email', 'email']);
  if (!code) missing.push(['reset-code', 'code']);
  if (!password) missing.push(['reset-password', 'new password']);
  if (missing.length) {
    markInvalid(missing.map((m) => m[0]));
    say(err, 'Please fill in: ' + missing.map((m) => m[1]).join(', ') + '.');
    return;
  }
  if (!/^\d{6}$/.test(code)) { markInvalid(['reset-code']); say(err, 'The code is the 6 digits from the email.'); return; }
  markInvalid([]);
  say(err, '');
  const btn = $('#reset-submit');
  btn.disabled = true;
  try {
    await api.passwordResetConfirm(email, code, password);
    for (const id of ['reset-code', 'reset-password']) $('#' + id).value = '';
    say($('#reset-info'), '');
    endCooldown($('#reset-send-code'));
    $('#login-login').value = email;
    $('#login-password').value = '';
    showTab('login');
    notice('Your password was changed. Log in with the new password.', 'ok');
    $('#login-password').focus();
  } catch (e2) {
    if (e2.code === 'invalid_argument' && /code/i.test(e2.message)) {
      markInvalid(['reset-code']);
      say(err, 'That code is wrong or has expired. Check the email, or send a new code.');
    } else {
      if (e2.code === 'invalid_argument' && /password/i.test(e2.message)) markInvalid(['reset-password']);
      say(err, describe(e2));
    }
  } finally {
    btn.disabled = false;
  }
}

/* --------------------------------------------------------------- settings */

function settingsOpen() { return document.body.dataset.screen === 'settings'; }

const settingsLines = [
  'profile-status', 'profile-error', 'pw-status', 'pw-error', 'email-info', 'email-error',
  'sessions-error', 'delete-error',
];

function openSettings() {
  if (!state.me || settingsOpen()) return;
  document.body.dataset.screen = 'settings';
  show($('#app'), false);
  show($('#settings'));
  for (const id of settingsLines) say($('#' + id), '');
  for (const inp of document.querySelectorAll('#settings input')) {
    inp.removeAttribute('aria-invalid');
    if (inp.type === 'checkbox') inp.checked = false;
    else inp.value = '';
  }
  show($('#email-confirm'), false);
  closeDelete();
  fillSettings();
  $('#settings-title').focus();
  loadSessions();
  api.me().then(applyMe).catch(() => {});
}

function closeSettings() {
  if (!settingsOpen()) return;
  document.body.dataset.screen = 'app';
  show($('#settings'), false);
  show($('#app'));
  render('list chat');
  if (state.current) scheduleRead(state.rooms.get(state.current));
  $('#btn-settings').focus();
}

function fillSettings() {
  const u = state.me;
  if (!u) return;
  $('#set-account').textContent = '@' + u.account;
  $('#set-email').textContent = u.email || '';
  $('#pw-username').value = u.account;
  $('#delete-username').value = u.account;
  const nick = $('#set-nickname');
  if (document.activeElement !== nick) nick.value = u.nickname || '';
}

/** Takes a fresh "me" (from GET/PATCH /v1/me or an email change). */
function applyMe(u) {
  if (!state.me || !u || u.id !== state.me.id) return;
  updateUser(u);
  state.me = { ...state.me, ...u };
  renderMe();
  fillSettings();
}

function settingsInvalid(ids) {
  for (const inp of document.querySelectorAll('#settings input')) inp.removeAttribute('aria-invalid');
  for (const id of ids) $('#' + id).setAttribute('aria-invalid', 'true');
  if (ids.length) $('#' + ids[0]).focus();
}

async function saveProfile(e) {
  e.preventDefault();
  const status = $('#profile-status');
  const err = $('#profile-error');
  say(status, '');
  say(err, '');
  const nickname = $('#set-nickname').value.trim();
  if (!nickname) { settingsInvalid(['set-nickname']); say(err, 'Enter a nickname: 1-32 characters.'); return; }
  settingsInvalid([]);
  const btn = $('#set-nickname-save');
  btn.disabled = true;
  try {
    applyMe(await api.updateMe({ nickname }));
    $('#set-nickname').value = state.me.nickname;
    say(status, 'Nickname saved.');
  } catch (e2) {
    settingsInvalid(['set-nickname']);
    say(err, describe(e2));
  } finally {
    btn.disabled = false;
  }
}

async function changePassword(e) {
  e.preventDefault();
  const status = $('#pw-status');
  const err = $('#pw-error');
  say(status, '');
  say(err, '');
  const current = $('#pw-current').value;
  const next = $('#pw-new').value;
  const missing = [];
  if (!current) missing.push(['pw-current', 'your current password']);
  if (!next) missing.push(['pw-new', 'a new password']);
  if (missing.length) {
    settingsInvalid(missing.map((m) => m[0]));
    say(err, 'Please enter ' + missing.map((m) => m[1]).join(' and ') + '.');
    return;
  }
  settingsInvalid([]);
  const btn = $('#pw-submit');
  btn.disabled = true;
  try {
    await api.changePassword(current, next);
    $('#pw-current').value = '';
    $('#pw-new').value = '';
    say(status, 'Password changed. Your other devices were logged out.');
    loadSessions();
  } catch (e2) {
    // The API's own words: a wrong current password (forbidden), a weak
    // new one (invalid_argument), a change made meanwhile (conflict).
    if (e2.code === 'forbidden') settingsInvalid(['pw-current']);
    else if (e2.code === 'invalid_argument') settingsInvalid([/current/i.test(e2.message) ? 'pw-current' : 'pw-new']);
    say(err, describe(e2));
  } finally {
    btn.disabled = false;
  }
}

async function sendEmailCode() {
  const email = $('#email-new').value.trim();
  const info = $('#email-info');
  const err = $('#email-error');
  say(info, '');
  say(err, '');
  if (!EMAIL_RE.test(email)) {
    settingsInvalid(['email-new']);
    say(err, email ? 'That does not look like an email address.' : 'Enter your new email address first, then ask for a code.');
    return;
  }
  settingsInvalid([]);
  const btn = $('#email-send-code');
  btn.disabled = true;
  try {
    await api.emailChangeCode(email);
    say(info, `We sent a 6-digit code to ${email}. Enter it below to confirm the new address.`);
    show($('#email-confirm'));
    cooldown(btn);
    $('#email-code').focus();
  } catch (e2) {
    btn.disabled = false;
    if (e2.code === 'conflict' || e2.code === 'invalid_argument') settingsInvalid(['email-new']);
    say(err, describe(e2));
  }
}

async function changeEmail(e) {
  e.preventDefault();
  const err = $('#email-error');
  say(err, '');
  if ($('#email-confirm').hidden) { sendEmailCode(); return; } // Enter in the email field
  const email = $('#email-new').value.trim();
  const code = $('#email-code').value.trim();
  if (!EMAIL_RE.test(email)) { settingsInvalid(['email-new']); say(err, 'Enter your new email address.'); return; }
  if (!/^\d{6}$/.test(code)) { settingsInvalid(['email-code']); say(err, 'The code is the 6 digits from the email.'); return; }
  settingsInvalid([]);
  const btn = $('#email-submit');
  btn.disabled = true;
  try {
    applyMe(await api.changeEmail(email, code));
    $('#email-new').value = '';
    $('#email-code').value = '';
    show($('#email-confirm'), false);
    endCooldown($('#email-send-code'));
    say($('#email-info'), `Your email address is now ${state.me.email}.`);
  } catch (e2) {
    if (e2.code === 'invalid_argument' && /code/i.test(e2.message)) {
      settingsInvalid(['email-code']);
      say(err, 'That code is wrong or has expired. Check the email, or send a new code.');
    } else {
      say(err, describe(e2));
    }
  } finally {
    btn.disabled = false;
  }
}

const whenFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
function when(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return Date.now() - d.getTime() < 60000 ? 'just now' : whenFmt.format(d);
}

let sessionsGen = 0;
async function loadSessions() {
  const gen = ++sessionsGen;
  const status = $('#sessions-status');
  if (!$('#sessions').children.length) status.textContent = 'Loading…';
  try {
    const { sessions } = await api.sessions();
    if (gen !== sessionsGen || !settingsOpen()) return;
    say($('#sessions-error'), '');
    renderSessions(sessions || []);
  } catch (e) {
    if (gen !== sessionsGen) return;
    status.textContent = '';
    say($('#sessions-error'), describe(e));
  }
}

function renderSessions(list) {
  const ul = $('#sessions');
  clear(ul);
  // This device first, then the most recently used.
  list.sort((a, b) => (b.current - a.current) || (Date.parse(b.last_used_at) - Date.parse(a.last_used_at)));
  for (const x of list) {
    const device = x.device || 'Unknown device';
    const meta = el('div', { class: 'session-meta' },
      'Last used ', el('time', { text: when(x.last_used_at), attrs: { datetime: x.last_used_at } }),
      x.ip ? ' · ' + x.ip : '',
      ' · since ', el('time', { text: when(x.created_at), attrs: { datetime: x.created_at } }));
    ul.append(el('li', { class: 'session', testid: 'session', data: { id: x.id, current: String(!!x.current) } },
      el('div', { class: 'session-main' },
        el('div', { class: 'session-device' },
          el('span', { text: device }),
          x.current ? el('span', { class: 'tag', testid: 'this-device', text: 'This device' }) : null),
        meta),
      x.current ? null : el('button', {
        class: 'ghost small-btn', testid: 'session-signout', text: 'Sign out',
        attrs: { type: 'button', 'aria-label': `Sign out ${device}` },
        on: { click: (e) => endSession(x, e.currentTarget) },
      })));
  }
  const others = list.filter((x) => !x.current).length;
  $('#sessions-status').textContent = others === 0
    ? 'Only this device is logged in.'
    : `Logged in on ${list.length} devices.`;
}

async function endSession(x, btn) {
  btn.disabled = true;
  say($('#sessions-error'), '');
  try {
    await api.endSession(x.id);
  } catch (e) {
    if (e.code !== 'not_found') { // gone already: the list catches up
      btn.disabled = false;
      say($('#sessions-error'), describe(e));
      return;
    }
  }
  await loadSessions();
  if (settingsOpen()) $('#sessions-status').textContent += ` Signed out ${x.device || 'the device'}.`;
}

async function logoutEverywhere() {
  const ok = await confirmBox('Sign out on every device, this one included? You will need your password to log in again.', 'Sign out everywhere');
  if (!ok) return;
  const btn = $('#sessions-logout-all');
  btn.disabled = true;
  try {
    await api.logoutAll();
    signedOut('signed_out_everywhere');
  } catch (e) {
    if (!state.me) return; // the socket's 4001 was first
    say($('#sessions-error'), describe(e));
  } finally {
    btn.disabled = false;
  }
}

function openDelete() {
  show($('#delete-form'));
  show($('#delete-start'), false);
  $('#delete-password').focus();
}

function closeDelete() {
  show($('#delete-form'), false);
  show($('#delete-start'));
  $('#delete-password').value = '';
  $('#delete-confirm').checked = false;
  say($('#delete-error'), '');
}

async function deleteAccount(e) {
  e.preventDefault();
  const err = $('#delete-error');
  say(err, '');
  const password = $('#delete-password').value;
  if (!password) { settingsInvalid(['delete-password']); say(err, 'Enter your password to confirm.'); return; }
  if (!$('#delete-confirm').checked) {
    settingsInvalid([]);
    $('#delete-confirm').focus();
    say(err, 'Tick the box to confirm that you want to delete your account.');
    return;
  }
  settingsInvalid([]);
  const btn = $('#delete-submit');
  btn.disabled = true;
  try {
    await api.deleteAccount(password);
    signedOut('account_deleted');
  } catch (e2) {
    if (!state.me) return;
    if (e2.code === 'forbidden') {
      settingsInvalid(['delete-password']);
      say(err, 'That password is wrong.');
    } else {
      say(err, describe(e2));
    }
  } finally {
    btn.disabled = false;
  }
}

/* ------------------------------------------------------------ signing out */

// Why a session ended (the reason of session_revoked and of the 4001 close).
const SIGNED_OUT = {
  signed_out: 'You were signed out from another device.',
  signed_out_everywhere: 'You were signed out on all devices.',
  password_changed: 'Your password was changed. Log in with the new password.',
  account_deleted: 'Your account was deleted.',
  logout: 'You logged out.',
};

/** The server ended this session: back to the login screen, tokens gone. */
function signedOut(reason) {
  if (!state.me && document.body.dataset.screen === 'auth') return;
  showAuth(SIGNED_OUT[reason] || 'Your session has ended. Log in again.');
  forget();
}

function resetState() {
  leaveComposer();
  for (const r of state.rooms.values()) for (const p of r.pending.values()) if (p.abort) p.abort();
  changes.clear();
  forgetURLs();
  if ($('#image-dialog').open) $('#image-dialog').close();
  state.me = null;
  presence.clear();
  for (const li of convItems.values()) li.remove();
  convItems.clear();
  state.rooms.clear();
  state.users.clear();
  state.current = null;
  state.incoming = [];
  state.outgoing = [];
  state.convLoaded = false;
  lookup.asked.clear();
  lookup.queue.clear();
  lastFound = null;
  clear($('#find-result'));
  show($('#find-result'), false);
  $('#find-account').value = '';
  sessionsGen++;
  clear($('#sessions'));
  $('#sessions-status').textContent = '';
  endCooldown($('#email-send-code'));
}

/** The login screen; msg says why (signed out by the server, ...). */
function showAuth(msg, kind = 'warn') {
  if (socket) socket.stop();
  resetState();
  document.body.classList.remove('in-chat');
  document.body.dataset.screen = 'auth';
  show($('#app'), false);
  show($('#settings'), false);
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  show($('#auth'));
  show($('#banner'), false);
  say($('#login-error'), '');
  showTab('login');
  notice(msg || '', kind);
}

function renderMe() {
  const u = state.me;
  $('#me-name').textContent = u.nickname || u.account;
  $('#me-account').textContent = '@' + u.account;
  avatar($('#me-avatar'), u.nickname || u.account, u.id);
}

function startApp() {
  const s = currentSession();
  if (!s) { showAuth(); return; }
  if (state.me && state.me.id === s.user.id && document.body.dataset.screen !== 'auth') return;
  resetState();
  state.me = s.user;
  remember(s.user);
  document.body.dataset.screen = 'app';
  show($('#auth'), false);
  show($('#settings'), false);
  show($('#app'));
  renderMe();
  render('list chat requests');
  socket.start();
  reloadConversations();
  reloadRequests();
  api.me().then(applyMe).catch(() => {});
}

/* -------------------------------------------------------------------- wire */

function wire() {
  $('#tab-login').addEventListener('click', () => showTab('login'));
  $('#tab-register').addEventListener('click', () => showTab('register'));
  $('#login-form').addEventListener('submit', doLogin);
  $('#register-form').addEventListener('submit', doRegister);
  $('#reg-send-code').addEventListener('click', sendCode);
  $('#forgot-link').addEventListener('click', openReset);
  $('#reset-back').addEventListener('click', () => showTab('login'));
  $('#reset-send-code').addEventListener('click', sendResetCode);
  $('#reset-form').addEventListener('submit', doReset);
  $('#btn-settings').addEventListener('click', openSettings);
  $('#settings-back').addEventListener('click', closeSettings);
  $('#profile-form').addEventListener('submit', saveProfile);
  $('#password-form').addEventListener('submit', changePassword);
  $('#email-send-code').addEventListener('click', sendEmailCode);
  $('#email-form').addEventListener('submit', changeEmail);
  $('#sessions-reload').addEventListener('click', loadSessions);
  $('#sessions-logout-all').addEventListener('click', logoutEverywhere);
  $('#delete-start').addEventListener('click', openDelete);
  $('#delete-cancel').addEventListener('click', () => { closeDelete(); $('#delete-start').focus(); });
  $('#delete-form').addEventListener('submit', deleteAccount);
  $('#btn-logout').addEventListener('click', async () => {
    showAuth();
    await logout();
  });
  $('#find-form').addEventListener('submit', findUser);
  $('#btn-new-group').addEventListener('click', () => openGroupDialog('create'));
  $('#chat-add-members').addEventListener('click', () => openGroupDialog('add'));
  $('#chat-group-settings').addEventListener('click', () => openGroupSettings(state.current, state.me));
  wireGroupSettings();
  $('#chat-leave').addEventListener('click', leaveOrDisband);
  $('#chat-unfriend').addEventListener('click', unfriend);
  $('#chat-back').addEventListener('click', closeRoom);
  // On a phone the chat's actions sit behind a menu button.
  const menu = $('#chat-menu');
  const setMenu = (open) => {
    $('#chat-actions').classList.toggle('open', open);
    menu.setAttribute('aria-expanded', String(open));
  };
  menu.addEventListener('click', (e) => { e.stopPropagation(); setMenu(!$('#chat-actions').classList.contains('open')); });
  document.addEventListener('click', () => setMenu(false));
  // Escape closes the open menu first (and gives the focus back to its button).
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !$('#chat-actions').classList.contains('open')) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    setMenu(false);
    menu.focus();
  });
  wireDialogs();
  $('#group-form').addEventListener('submit', submitGroup);
  $('#group-cancel').addEventListener('click', () => $('#group-dialog').close());
  $('#composer').addEventListener('submit', (e) => { e.preventDefault(); sendFromComposer(); });
  const input = $('#composer-input');
  input.addEventListener('keydown', composerKey);
  input.addEventListener('keyup', () => { enterUsed = false; });
  input.addEventListener('beforeinput', (e) => {
    if (enterUsed && (e.inputType === 'insertLineBreak' || e.inputType === 'insertParagraph')) e.preventDefault();
  });
  input.addEventListener('input', () => {
    if (state.current) presence.input(state.current, !input.value.trim());
    updateCount();
    updateMentions();
    if ($('#composer-error').textContent && codepoints(input.value) <= MAX_BODY) composerError('');
  });
  input.addEventListener('click', updateMentions);
  input.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== input) closeMentions(); }, 150));
  input.addEventListener('paste', (e) => {
    const files = e.clipboardData ? [...e.clipboardData.files] : [];
    if (!files.length) return;
    e.preventDefault();
    attachFiles(files);
  });
  $('#composer-context-cancel').addEventListener('click', () => { cancelMode(); input.focus(); });
  $('#composer-attach').addEventListener('click', () => $('#composer-file').click());
  $('#composer-file').addEventListener('change', (e) => {
    attachFiles([...e.target.files]);
    e.target.value = '';
  });
  wireDrop();
  wireMenu();
  $('#image-close').addEventListener('click', () => $('#image-dialog').close());
  $('#image-download').addEventListener('click', () => {
    if (lightbox) download(lightbox).catch((e) => toast(describe(e)));
  });
  $('#image-dialog').addEventListener('click', (e) => { // on the backdrop
    const b = e.currentTarget.getBoundingClientRect();
    if (e.target === e.currentTarget && (e.clientX < b.left || e.clientX > b.right || e.clientY < b.top || e.clientY > b.bottom)) e.currentTarget.close();
  });
  $('#image-dialog').addEventListener('close', () => { lightbox = null; $('#image-full').removeAttribute('src'); });
  $('#messages').addEventListener('scroll', () => {
    const r = state.current && state.rooms.get(state.current);
    if (r && $('#messages').scrollTop < 80) loadOlder(r);
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    if (state.current) scheduleRead(state.rooms.get(state.current));
    // A background tab's timers are slowed down: do not wait for the
    // back-off when the user comes back.
    if (state.me && socket.state === 'reconnecting') socket.reconnectNow();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || document.querySelector('dialog[open]')) return;
    if (settingsOpen()) closeSettings();
    else if (state.current) closeRoom();
  });

  onSession((s) => {
    if (!s) {
      if (state.me) showAuth('Your session has ended. Log in again.');
      return;
    }
    if (state.me && s.user && s.user.id !== state.me.id) { startApp(); return; }
    if (!state.me && document.body.dataset.screen === 'auth') { startApp(); return; }
    socket.refreshToken(s.access_token);
  });
}

/** Files dropped on the chat are sent; the drop zone shows while dragging. */
function wireDrop() {
  const pane = $('#chat-pane');
  const zone = $('#drop-zone');
  let depth = 0;
  const files = (e) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  pane.addEventListener('dragenter', (e) => {
    if (!files(e)) return;
    e.preventDefault();
    depth++;
    show(zone);
  });
  pane.addEventListener('dragover', (e) => {
    if (!files(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  pane.addEventListener('dragleave', (e) => {
    if (!files(e)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) show(zone, false);
  });
  pane.addEventListener('drop', (e) => {
    if (!files(e)) return;
    e.preventDefault();
    depth = 0;
    show(zone, false);
    attachFiles([...e.dataTransfer.files]);
  });
}

function main() {
  socket = new Socket({ onFrame, onMessage, onState: onSocketState, onOpen, onRevoked: signedOut });
  wire();
  if (currentSession()) startApp();
  else showAuth();
}

main();
