// Accessibility helpers: a polite live region for news (new messages), and
// modal dialogs that keep the keyboard inside them and give the focus back
// to what opened them when they close. Escape closes a modal <dialog> by
// itself (its cancel event).

import { $ } from './dom.js';

const MAX_ANNOUNCE = 200; // characters read out of one message

/**
 * Says text through the polite live region (#announcer): read after what
 * the screen reader is saying, never interrupting it.
 */
export function announce(text) {
  const r = $('#announcer');
  if (!r) return;
  let s = String(text).replace(/\s+/g, ' ').trim();
  if ([...s].length > MAX_ANNOUNCE) s = [...s].slice(0, MAX_ANNOUNCE).join('') + '…';
  r.textContent = s;
}

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]';

function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((e) => !e.disabled && e.tabIndex >= 0 && !e.closest('[hidden]') && e.getClientRects().length > 0);
}

/**
 * Opens dialog d as a modal: Tab and Shift+Tab cycle through its controls
 * (not out to the page or the browser), and on close the focus goes back to
 * the element that had it when d opened.
 */
export function openDialog(d) {
  const back = document.activeElement;
  d.showModal();
  d.addEventListener('close', () => {
    if (back && back.isConnected && back !== document.body && !document.querySelector('dialog[open]')) back.focus();
  }, { once: true });
}

/** Wires the focus trap of every modal dialog (once). */
export function wireDialogs() {
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const open = [...document.querySelectorAll('dialog[open]')];
    const d = open[open.length - 1];
    if (!d) return;
    const list = focusables(d);
    if (!list.length) { e.preventDefault(); return; }
    const first = list[0];
    const last = list[list.length - 1];
    const inside = d.contains(document.activeElement);
    if (e.shiftKey && (!inside || document.activeElement === first)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (!inside || document.activeElement === last)) {
      e.preventDefault();
      first.focus();
    }
  });
}
