// Rich messages: kinds, change events, attachments (fetched with the
// access token into blob: URLs, since files are not public), and the short
// text that stands for a message in a preview or a quote.

import { fetchBlob } from './api.js';

/** The emoji the reaction picker offers. */
export const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

/** How long after sending a sender may recall a message (the server's default). */
export const RECALL_MS = 2 * 60 * 1000;

/** Whether a message is a change event (it changes its target; never shown). */
export function isEvent(m) {
  const k = m && m.kind;
  return k === 'edit' || k === 'recall' || k === 'react' || k === 'unreact';
}

/** Whether the message mentions user id (by id or @all). */
export function mentions(m, id) {
  return Array.isArray(m.mentions) && (m.mentions.includes(id) || m.mentions.includes('@all'));
}

/**
 * Applies a change event to its target: an edit replaces the body, a recall
 * empties the message, a reaction counts one more or one less (mine: the
 * event is the reader's own).
 */
export function applyChange(target, ev, mine) {
  switch (ev.kind) {
    case 'edit':
      if (target.recalled) return;
      target.body = ev.body;
      target.edited_at = ev.created_at;
      break;
    case 'recall':
      target.recalled = true;
      target.body = '';
      target.attachment = undefined;
      target.mentions = undefined;
      target.reactions = [];
      break;
    case 'react':
    case 'unreact': {
      const add = ev.kind === 'react';
      const rs = Array.isArray(target.reactions) ? target.reactions : [];
      let x = rs.find((r) => r.emoji === ev.emoji);
      if (!x) {
        if (!add) return;
        x = { emoji: ev.emoji, count: 0 };
        rs.push(x);
      }
      x.count += add ? 1 : -1;
      if (mine) x.mine = add;
      target.reactions = rs.filter((r) => r.count > 0);
      break;
    }
    default:
  }
}

/** "1.2 MB" */
export function formatSize(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Width and height of an image shown within max×max, keeping its ratio. */
export function fit(w, h, max = 240) {
  if (!(w > 0 && h > 0)) return [max, Math.round(max * 0.75)];
  const s = Math.min(1, max / Math.max(w, h));
  return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))];
}

/**
 * A short text for a message (conversation previews, quotes): the body of
 * a text, "Photo" or the file's name for an attachment, what a change did.
 */
export function summary(m) {
  if (m.recalled) return 'Message recalled';
  const cap = m.body ? ': ' + m.body : '';
  switch (m.kind) {
    case 'image': return '📷 Photo' + cap;
    case 'file': return '📎 ' + ((m.attachment && m.attachment.name) || 'File') + (m.attachment ? cap : '');
    case 'custom': return m.body || 'Custom message';
    case 'system': return m.body || 'Notice';
    case 'edit': return 'edited a message';
    case 'recall': return 'recalled a message';
    case 'react': return `reacted ${m.emoji || m.body || ''} to a message`;
    case 'unreact': return 'removed a reaction';
    default: return m.body || '';
  }
}

/* ------------------------------------------------------------- files */

// file id + (thumb) -> {promise, url}: each file is fetched once per
// session and kept as a blob: URL until logout.
const urls = new Map();

function key(id, thumb) { return id + (thumb ? ':thumb' : ''); }

/** The blob: URL of a file (thumb: its thumbnail), fetched with the token. */
export function fileURL(id, thumb = false) {
  const k = key(id, thumb);
  let e = urls.get(k);
  if (!e) {
    e = { url: '' };
    e.promise = fetchBlob(`/v1/files/${encodeURIComponent(id)}${thumb ? '/thumbnail' : ''}`)
      .then((b) => { e.url = URL.createObjectURL(b); return e.url; })
      .catch((err) => { urls.delete(k); throw err; });
    urls.set(k, e);
  }
  return e.promise;
}

/** The blob: URL of a file if it is fetched already, else ''. */
export function cachedURL(id, thumb = false) {
  const e = urls.get(key(id, thumb));
  return e ? e.url : '';
}

/** Remembers a local copy (the file just uploaded) as the file and its thumbnail. */
export function seedURL(id, url) {
  for (const thumb of [false, true]) {
    const k = key(id, thumb);
    if (!urls.has(k)) urls.set(k, { url, promise: Promise.resolve(url) });
  }
}

/** Drops every fetched file (logout). */
export function forgetURLs() {
  const seen = new Set();
  for (const e of urls.values()) {
    if (e.url && !seen.has(e.url)) { seen.add(e.url); URL.revokeObjectURL(e.url); }
  }
  urls.clear();
}

/** Saves a file to the user's disk: fetched with the token, then a download link. */
export async function download(att) {
  const url = await fileURL(att.file_id);
  const a = document.createElement('a');
  a.href = url;
  a.download = att.name || 'file';
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
}
