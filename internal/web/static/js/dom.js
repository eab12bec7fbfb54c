// Small DOM helpers. Text always goes in with textContent: nothing a user
// typed is ever parsed as HTML.

export const $ = (sel, root = document) => root.querySelector(sel);

/**
 * el('li', {class: 'x', text: 'hi', data: {seq: 3}, attrs: {title: 't'}, on: {click: f}}, child...)
 */
export function el(tag, opts = {}, ...children) {
  const e = document.createElement(tag);
  if (opts.class) e.className = opts.class;
  if (opts.text !== undefined) e.textContent = opts.text;
  if (opts.id) e.id = opts.id;
  if (opts.testid) e.dataset.testid = opts.testid;
  if (opts.data) for (const [k, v] of Object.entries(opts.data)) e.dataset[k] = String(v);
  if (opts.attrs) for (const [k, v] of Object.entries(opts.attrs)) e.setAttribute(k, String(v));
  if (opts.on) for (const [k, f] of Object.entries(opts.on)) e.addEventListener(k, f);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

/** Shows msg in node (a form's error line); hides it when msg is empty. */
export function say(node, msg) {
  node.textContent = msg || '';
  node.hidden = !msg;
}

/** Number of Unicode code points (what the server's 4000 limit counts). */
export function codepoints(s) {
  let n = 0;
  for (const _ of s) n++; // eslint-disable-line no-unused-vars
  return n;
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const first = parts[0] ? [...parts[0]][0] : '?';
  const second = parts.length > 1 ? [...parts[parts.length - 1]][0] : '';
  return (first + (second || '')).toUpperCase();
}

function hash(s) {
  let h = 0;
  for (const c of String(s)) h = (h * 31 + c.codePointAt(0)) | 0;
  return Math.abs(h);
}

/** Fills an avatar element with initials and a stable colour. */
export function avatar(node, name, key) {
  node.textContent = initials(name);
  node.dataset.color = String(hash(key || name) % 8);
  return node;
}

export function newAvatar(name, key, extra = '') {
  return avatar(el('span', { class: 'avatar ' + extra, attrs: { 'aria-hidden': 'true' } }), name, key);
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullDayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' });

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "14:05" today, "May 3" otherwise. */
export function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return sameDay(d, new Date()) ? timeFmt.format(d) : dayFmt.format(d);
}

export function clock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : timeFmt.format(d);
}

export function dayLabel(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  if (sameDay(d, now)) return 'Today';
  const y = new Date(now); y.setDate(now.getDate() - 1);
  if (sameDay(d, y)) return 'Yesterday';
  return fullDayFmt.format(d);
}

export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** A random client_msg_id: printable ASCII, well under 64 characters. */
export function randomID(prefix = 'web') {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return prefix + '-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
