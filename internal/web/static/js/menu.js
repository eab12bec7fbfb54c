// The message menu: one popup (role=menu) shown next to the button that
// opened it. Arrow keys, Home and End move between its items; Escape and Tab
// close it and give the focus back to the button; a click elsewhere closes
// it. The chat re-renders its list freely: the menu lives outside it, and
// `current` finds the button as it is now (a new node after a re-render).

import { $, el, clear } from './dom.js';

let open = null; // {anchor, back}

/**
 * Opens the menu at anchor. items: {text, label?, testid?, danger?,
 * pressed?, onSelect} or {row: [items]} (a row of small buttons: the
 * emoji). current() returns the anchor as it is now in the page (told
 * when the menu closes, and given the focus back).
 */
export function openMenu(anchor, items, current) {
  closeMenu(false);
  const menu = $('#msg-menu');
  clear(menu);
  const item = (it, cls) => el('button', {
    class: cls + (it.danger ? ' danger' : ''), text: it.text, testid: it.testid,
    attrs: {
      type: 'button', tabindex: '-1',
      role: it.pressed === undefined ? 'menuitem' : 'menuitemcheckbox',
      ...(it.label ? { 'aria-label': it.label, title: it.label } : {}),
      ...(it.pressed === undefined ? {} : { 'aria-checked': String(!!it.pressed) }),
    },
    on: { click: () => { closeMenu(true); it.onSelect(); } },
  });
  for (const it of items) {
    if (it.row) menu.append(el('div', { class: 'menu-row', attrs: { role: 'group', 'aria-label': it.label || '' } }, ...it.row.map((x) => item(x, 'menu-emoji'))));
    else menu.append(item(it, 'menu-item'));
  }
  menu.hidden = false;
  place(menu, anchor);
  anchor.setAttribute('aria-expanded', 'true');
  open = { anchor, current };
  const first = menuItems()[0];
  if (first) first.focus();
}

/** Whether the menu is open. */
export function menuOpen() { return !!open; }

/** Closes the menu; focus: give the focus back to its button. */
export function closeMenu(focus = true) {
  if (!open) return;
  const { anchor, current } = open;
  open = null;
  const menu = $('#msg-menu');
  menu.hidden = true;
  clear(menu);
  const now = (current && current()) || anchor;
  for (const b of new Set([anchor, now])) b.setAttribute('aria-expanded', 'false');
  if (focus && now.isConnected) now.focus();
}

function menuItems() {
  return [...$('#msg-menu').querySelectorAll('button')];
}

// Below the button, aligned to its nearer edge; above when there is no
// room below; always inside the window.
function place(menu, anchor) {
  const a = anchor.getBoundingClientRect();
  menu.style.left = '0px';
  menu.style.top = '0px';
  const m = menu.getBoundingClientRect();
  const vw = document.documentElement.clientWidth;
  const vh = document.documentElement.clientHeight;
  let left = a.left + a.width / 2 > vw / 2 ? a.right - m.width : a.left;
  let top = a.bottom + 4;
  if (top + m.height > vh - 8) top = a.top - m.height - 4;
  left = Math.max(8, Math.min(left, vw - m.width - 8));
  top = Math.max(8, Math.min(top, vh - m.height - 8));
  menu.style.left = `${Math.round(left)}px`;
  menu.style.top = `${Math.round(top)}px`;
}

/** Wires the menu's keys and the clicks elsewhere (once, at start). */
export function wireMenu() {
  const menu = $('#msg-menu');
  menu.addEventListener('keydown', (e) => {
    const list = menuItems();
    const i = list.indexOf(document.activeElement);
    let next = -1;
    switch (e.key) {
      case 'ArrowDown': case 'ArrowRight': next = (i + 1) % list.length; break;
      case 'ArrowUp': case 'ArrowLeft': next = (i - 1 + list.length) % list.length; break;
      case 'Home': next = 0; break;
      case 'End': next = list.length - 1; break;
      case 'Escape': case 'Tab':
        e.preventDefault();
        e.stopPropagation();
        closeMenu(true);
        return;
      default: return;
    }
    e.preventDefault();
    e.stopPropagation();
    list[next].focus();
  });
  document.addEventListener('pointerdown', (e) => {
    if (!open || menu.contains(e.target)) return;
    const now = open.current && open.current();
    if (!open.anchor.contains(e.target) && !(now && now.contains(e.target))) closeMenu(false);
  }, true);
  window.addEventListener('resize', () => closeMenu(false));
  $('#messages').addEventListener('wheel', () => closeMenu(false), { passive: true });
  $('#messages').addEventListener('touchmove', () => closeMenu(false), { passive: true });
}
