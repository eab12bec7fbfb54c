// Group settings (issue #15): members with their roles, mutes, mute-all,
// the announcement, invite links and join requests. What a button offers
// follows the caller's role; the server decides anyway.

import { request, describe } from './api.js';
import { $, el, clear, say } from './dom.js';
import { openDialog } from './a11y.js';

const path = (id, rest = '') => `/v1/groups/${encodeURIComponent(id)}${rest}`;
const enc = encodeURIComponent;

export const groupAdminAPI = {
  members: (id) => request('GET', path(id, '/members?limit=200')),
  group: (id) => request('GET', path(id)),
  setAdmin: (id, account, on) => request(on ? 'PUT' : 'DELETE', path(id, '/admins/' + enc(account))),
  mute: (id, account, seconds) => request('PUT', path(id, '/mutes/' + enc(account)), { duration_seconds: seconds }),
  unmute: (id, account) => request('DELETE', path(id, '/mutes/' + enc(account))),
  remove: (id, account) => request('DELETE', path(id, '/members/' + enc(account))),
  muteAll: (id, on) => request(on ? 'PUT' : 'DELETE', path(id, '/mute-all')),
  announce: (id, text) => request('PUT', path(id, '/announcement'), { text }),
  createInvite: (id) => request('POST', path(id, '/invites'), { expires_in_seconds: 7 * 24 * 3600, max_uses: 100 }),
  joinRequests: (id) => request('GET', path(id, '/join-requests')),
  answer: (id, account, approve) => approve
    ? request('POST', path(id, '/join-requests/' + enc(account) + '/approve'))
    : request('DELETE', path(id, '/join-requests/' + enc(account))),
};

const RANK = { owner: 2, admin: 1, member: 0 };

let current = null; // {id, me}

/** Opens the settings dialog of group id for the user me. */
export async function openGroupSettings(id, me) {
  current = { id, me };
  say($('#groupadmin-error'), '');
  openDialog($('#groupadmin-dialog'));
  await render();
}

/** Wires the dialog's fixed controls (once). */
export function wireGroupSettings() {
  $('#groupadmin-close').addEventListener('click', () => $('#groupadmin-dialog').close());
}

/** Refreshes the open dialog after a group_admin event of its group. */
export function groupSettingsChanged(roomID) {
  if (current && current.id === roomID && $('#groupadmin-dialog').open) render();
}

async function act(f) {
  say($('#groupadmin-error'), '');
  try {
    await f();
  } catch (e) {
    say($('#groupadmin-error'), describe(e));
  }
  await render();
}

async function render() {
  const { id, me } = current;
  const body = $('#groupadmin-body');
  let group, members;
  try {
    [{ group }, { members }] = await Promise.all([groupAdminAPI.group(id), groupAdminAPI.members(id)]);
  } catch (e) {
    say($('#groupadmin-error'), describe(e));
    return;
  }
  const mine = members.find((m) => m.id === me.id);
  const role = mine ? mine.role : 'member';
  const admin = RANK[role] >= 1;
  clear(body);

  const ann = group.announcement ? group.announcement.text : '';
  body.append(el('section', { class: 'ga-section' },
    el('h3', { text: 'Announcement' }),
    el('p', { id: 'ga-announcement-text', class: ann ? '' : 'muted small', text: ann || 'No announcement.' })));
  if (admin) {
    const input = el('textarea', { id: 'ga-announcement', attrs: { maxlength: 2000, rows: 2, 'aria-label': 'Announcement' } });
    input.value = ann;
    body.append(el('div', { class: 'ga-row' }, input,
      el('button', { id: 'ga-announce', class: 'ghost small-btn', attrs: { type: 'button' }, text: 'Save announcement',
        on: { click: () => act(() => groupAdminAPI.announce(id, input.value)) } })));
    const box = el('input', { id: 'ga-mute-all', attrs: { type: 'checkbox' },
      on: { change: (e) => act(() => groupAdminAPI.muteAll(id, e.target.checked)) } });
    box.checked = !!group.mute_all;
    body.append(el('label', { class: 'ga-row' }, box, ' Only the owner and admins may send'));
  } else if (group.mute_all) {
    body.append(el('p', { class: 'muted small', text: 'Only the owner and admins may send now.' }));
  }

  const list = el('ul', { id: 'ga-members', class: 'pick-list' });
  for (const m of members) list.append(memberRow(id, me, role, m));
  const more = group.member_count > members.length ? ` (first ${members.length})` : '';
  body.append(el('section', { class: 'ga-section' }, el('h3', { text: `Members: ${group.member_count}${more}` }), list));

  if (admin) {
    const link = el('p', { id: 'ga-invite-link', class: 'small' });
    body.append(el('section', { class: 'ga-section' }, el('h3', { text: 'Invite link' }),
      el('button', { id: 'ga-invite', class: 'ghost small-btn', attrs: { type: 'button' }, text: 'Create an invite link',
        on: { click: async () => {
          try {
            const { invite } = await groupAdminAPI.createInvite(id);
            link.textContent = `Token (valid 7 days, 100 uses): ${invite.token}`;
          } catch (e) {
            say($('#groupadmin-error'), describe(e));
          }
        } } }), link));
    const reqs = el('ul', { id: 'ga-requests', class: 'pick-list' });
    body.append(el('section', { class: 'ga-section' }, el('h3', { text: 'Join requests' }), reqs));
    try {
      const { requests } = await groupAdminAPI.joinRequests(id);
      if (!requests.length) reqs.append(el('li', { class: 'muted small', text: 'None.' }));
      for (const r of requests) {
        reqs.append(el('li', { testid: 'ga-request', data: { account: r.user.account } },
          el('span', { text: `${r.user.nickname || r.user.account} @${r.user.account}${r.message ? ': ' + r.message : ''} ` }),
          button('Approve', 'approve', () => act(() => groupAdminAPI.answer(id, r.user.account, true))),
          button('Decline', 'decline', () => act(() => groupAdminAPI.answer(id, r.user.account, false)))));
      }
    } catch (e) {
      say($('#groupadmin-error'), describe(e));
    }
  }
}

function button(text, action, f) {
  return el('button', { class: 'ghost small-btn', attrs: { type: 'button' }, data: { action }, text, on: { click: f } });
}

function memberRow(id, me, myRole, m) {
  const muted = m.muted_until && Date.parse(m.muted_until) > Date.now();
  const label = `${m.nickname || m.account} @${m.account}` + (m.role !== 'member' ? ` (${m.role})` : '') +
    (muted ? ` muted until ${new Date(m.muted_until).toLocaleString()}` : '');
  const li = el('li', { testid: 'ga-member', data: { account: m.account, role: m.role, muted: muted ? 'yes' : 'no' } },
    el('span', { text: label + ' ' }));
  const over = m.id !== me.id && RANK[myRole] > RANK[m.role];
  if (over && RANK[myRole] >= 1) {
    li.append(muted
      ? button('Unmute', 'unmute', () => act(() => groupAdminAPI.unmute(id, m.account)))
      : button('Mute 1 h', 'mute', () => act(() => groupAdminAPI.mute(id, m.account, 3600))));
    li.append(button('Remove', 'remove', () => act(() => groupAdminAPI.remove(id, m.account))));
  }
  if (myRole === 'owner' && m.role !== 'owner') {
    li.append(m.role === 'admin'
      ? button('Dismiss admin', 'dismiss', () => act(() => groupAdminAPI.setAdmin(id, m.account, false)))
      : button('Make admin', 'appoint', () => act(() => groupAdminAPI.setAdmin(id, m.account, true))));
  }
  return li;
}

/** Closes the dialog (main.js: the user left the group). */
export function closeGroupSettings() {
  const d = $('#groupadmin-dialog');
  if (d.open) d.close();
  current = null;
}
