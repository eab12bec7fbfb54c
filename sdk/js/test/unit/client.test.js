// The client's state machine against a fake WebSocket: connect, reconnect
// with back-off and jitter, sync from the cursors, dedupe, idempotent sends.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, IMError, backoffDelay, newClientMsgID } from '../../dist/index.js';
import { fakeServer, msg } from './fakews.js';

// Every client is closed after its test, passed or failed (no timers left).
const clients = [];
afterEach(() => { for (const c of clients.splice(0)) c.close(); });

function newClient(server, extra = {}) {
  const c = new Client({
    url: 'ws://127.0.0.1:1/ws', token: 'tok', WebSocket: server.WebSocket,
    reconnect: { initialMs: 20, maxMs: 80 }, retry: { initialMs: 10, maxMs: 40 }, ...extra,
  });
  clients.push(c);
  const seen = [];
  c.on('message', (m, info) => seen.push({ room: m.room_id, seq: m.seq, ack: info.ack }));
  return { c, seen };
}

test('backoffDelay: doubling steps, capped, jitter in the upper half', () => {
  const o = { initialMs: 500, maxMs: 10000 };
  assert.equal(backoffDelay(0, o, () => 0), 250);
  assert.equal(backoffDelay(0, o, () => 1), 500);
  assert.equal(backoffDelay(3, o, () => 0), 2000);
  assert.equal(backoffDelay(30, o, () => 1), 10000);
  assert.equal(backoffDelay(1000, o, () => 0), 5000);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2, o);
    assert.ok(d >= 1000 && d <= 2000, `delay ${d}`);
  }
});

test('newClientMsgID: printable ASCII, at most 64, unique', () => {
  const ids = new Set();
  for (let i = 0; i < 1000; i++) {
    const id = newClientMsgID('web');
    assert.match(id, /^[\x21-\x7e]{1,64}$/);
    ids.add(id);
  }
  assert.equal(ids.size, 1000);
});

test('options are checked', () => {
  assert.throws(() => new Client({ url: 'http://x/ws', token: 't', WebSocket: class {} }), IMError);
  assert.throws(() => new Client({ url: [], token: 't', WebSocket: class {} }), IMError);
  assert.throws(() => new Client({ url: 'ws://x/ws', token: '', WebSocket: class {} }), IMError);
});

test('connects with the token, says open after hello and syncs every tracked room', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { cursors: { R1: 41, R2: 0 } });
  const states = [];
  c.on('state', (st) => states.push(st));
  c.connect();
  const ws = await s.socket(1);
  assert.equal(ws.token(), 'tok');
  assert.equal(c.state, 'connecting');
  ws.hello();
  assert.equal(c.state, 'open');
  assert.deepEqual(ws.frames('sync'), [{ type: 'sync', rooms: { R1: 41, R2: 0 } }]);
  assert.deepEqual(states, ['connecting', 'open']);
  c.close();
  assert.equal(c.state, 'closed');
  assert.equal(ws.closedByClient, 1000);
});

test('dedupes by seq, moves the cursor over contiguous seqs and synced, follows more', async () => {
  const s = fakeServer();
  const { c, seen } = newClient(s, { cursors: { R: 0 } });
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  ws.recv({ type: 'message', message: msg('R', 1) });
  ws.recv({ type: 'message', message: msg('R', 2) });
  ws.recv({ type: 'message', message: msg('R', 2) }); // live and from sync
  ws.recv({ type: 'message', message: msg('R', 1) });
  assert.deepEqual(seen.map((x) => x.seq), [1, 2]);
  assert.equal(c.cursor('R'), 2);
  // A closed hole at 3 passed by synced; more: true asks again from there.
  ws.recv({ type: 'synced', room_id: 'R', last_seq: 3, more: true });
  assert.equal(c.cursor('R'), 3);
  assert.deepEqual(ws.frames('sync').at(-1), { type: 'sync', rooms: { R: 3 } });
  ws.recv({ type: 'message', message: msg('R', 4) });
  ws.recv({ type: 'synced', room_id: 'R', last_seq: 4, more: false });
  assert.equal(c.cursor('R'), 4);
  assert.equal(ws.frames('sync').length, 2);
  c.close();
});

test('a live message beyond a gap waits for the sync that fills it, and asks it once', async () => {
  const s = fakeServer();
  const { c, seen } = newClient(s, { cursors: { R: 3 } });
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  ws.recv({ type: 'message', message: msg('R', 6) });
  ws.recv({ type: 'message', message: msg('R', 7) });
  assert.deepEqual(ws.frames('sync').map((f) => f.rooms), [{ R: 3 }, { R: 3 }]);
  assert.equal(c.cursor('R'), 3);
  assert.deepEqual(seen, [], 'held beyond the gap');
  ws.recv({ type: 'message', message: msg('R', 4) });
  assert.equal(c.cursor('R'), 4);
  ws.recv({ type: 'message', message: msg('R', 5) });
  assert.equal(c.cursor('R'), 7);
  ws.recv({ type: 'message', message: msg('R', 6) });
  ws.recv({ type: 'synced', room_id: 'R', last_seq: 7, more: false });
  assert.deepEqual(seen.map((x) => x.seq), [4, 5, 6, 7], 'in order, once');
  assert.equal(ws.frames('sync').length, 2);
  c.close();
});

test('a hole passed by synced lets the held messages through in order', async () => {
  const s = fakeServer();
  const { c, seen } = newClient(s, { cursors: { R: 3 } });
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  ws.recv({ type: 'message', message: msg('R', 6) }); // 4 and 5 are holes
  ws.recv({ type: 'message', message: msg('R', 8) }); // 7 still on its way
  ws.recv({ type: 'synced', room_id: 'R', last_seq: 6, more: false });
  assert.deepEqual(seen.map((x) => x.seq), [6]);
  assert.equal(c.cursor('R'), 6);
  // 8 is still held beyond 7: the client asks again from 6.
  assert.deepEqual(ws.frames('sync').at(-1), { type: 'sync', rooms: { R: 6 } });
  ws.recv({ type: 'message', message: msg('R', 7) });
  assert.deepEqual(seen.map((x) => x.seq), [6, 7, 8]);
  assert.equal(c.cursor('R'), 8);
  c.close();
});

test('an ack beyond a gap is held; the sync is asked only if the gap stays', async () => {
  const s = fakeServer();
  const { c, seen } = newClient(s, { cursors: { R: 1 } });
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  const syncs = () => ws.frames('sync').length;
  // Another sender's 2 arrives just after our ack of 3: no sync.
  ws.recv({ type: 'ack', client_msg_id: 'x', message: msg('R', 3) });
  ws.recv({ type: 'message', message: msg('R', 2) });
  assert.deepEqual(seen.map((x) => [x.seq, x.ack]), [[2, false], [3, true]]);
  // Our ack of 5 while 4 never comes: a sync from 3 after a moment.
  ws.recv({ type: 'ack', client_msg_id: 'y', message: msg('R', 5) });
  assert.equal(syncs(), 1);
  await s.until(() => syncs() === 2, 3000, 'the gap sync');
  assert.deepEqual(ws.frames('sync').at(-1), { type: 'sync', rooms: { R: 3 } });
  ws.recv({ type: 'synced', room_id: 'R', last_seq: 5, more: false });
  assert.deepEqual(seen.map((x) => x.seq), [2, 3, 5]);
  c.close();
});

test('reconnects with growing, jittered back-off and syncs from the last seen seq', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { cursors: { R: 0 }, random: () => 0.5 });
  c.connect();
  let ws = await s.socket(1);
  ws.hello();
  for (let i = 1; i <= 5; i++) ws.recv({ type: 'message', message: msg('R', i) });
  const times = [];
  let t0 = Date.now();
  ws.drop(1006);
  assert.equal(c.state, 'reconnecting');
  // Three refusals before hello: the waits grow (15, 30, 60 ms with
  // random 0.5 on steps 20, 40, 80), then one more at the cap.
  for (let n = 2; n <= 5; n++) {
    ws = await s.socket(n);
    times.push(Date.now() - t0);
    t0 = Date.now();
    if (n < 5) ws.drop(1006);
  }
  assert.ok(times[0] >= 14, `first wait ${times[0]}`);
  assert.ok(times[1] >= 29, `second wait ${times[1]}`);
  assert.ok(times[2] >= 59, `third wait ${times[2]}`);
  assert.ok(times[3] >= 59, `capped wait ${times[3]}`);
  ws.hello();
  assert.equal(c.state, 'open');
  assert.deepEqual(ws.frames('sync'), [{ type: 'sync', rooms: { R: 5 } }]);
  c.close();
});

test('the token function is asked again, with refresh after a refusal before hello', async () => {
  const s = fakeServer();
  const asked = [];
  let n = 0;
  const { c } = newClient(s, {
    url: ['ws://a/ws', 'ws://b/ws'], random: () => 0,
    token: async (ctx) => { asked.push({ ...ctx }); return `t${++n}`; },
  });
  c.connect();
  const ws1 = await s.socket(1);
  assert.equal(ws1.token(), 't1');
  ws1.drop(1006); // refused: maybe the token, maybe the node
  const ws2 = await s.socket(2);
  assert.equal(ws2.token(), 't2');
  assert.notEqual(new URL(ws1.url).host, new URL(ws2.url).host, 'moves to the other node');
  ws2.hello();
  ws2.drop(1001); // after hello: same node is fine, no refresh needed
  const ws3 = await s.socket(3);
  assert.deepEqual(asked, [{ attempt: 0, refresh: false }, { attempt: 1, refresh: true }, { attempt: 1, refresh: false }]);
  assert.equal(ws3.token(), 't3');
  c.close();
});

test('a token function failing with unauthenticated closes the client', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { token: async () => { throw new IMError('unauthenticated', 'logged out', 401); } });
  c.connect();
  await s.until(() => c.state === 'closed', 2000, 'closed');
  assert.equal(s.sockets.length, 0);
});

test('send: retried with the same client_msg_id after unavailable and across a reconnect; one message', async () => {
  const s = fakeServer();
  const { c, seen } = newClient(s, { cursors: { R: 0 } });
  c.connect();
  let ws = await s.socket(1);
  ws.hello();
  const p = c.send('R', 'hi');
  const [f1] = ws.frames('send');
  assert.equal(f1.body, 'hi');
  assert.equal(f1.room_id, 'R');
  const id = f1.client_msg_id;
  ws.recv({ type: 'error', code: 'unavailable', message: 'shed', client_msg_id: id, retry_after_ms: 30 });
  const t0 = Date.now();
  await s.until(() => ws.frames('send').length === 2, 2000, 'the retry');
  assert.ok(Date.now() - t0 >= 25, 'waits retry_after_ms');
  assert.equal(ws.frames('send')[1].client_msg_id, id);
  ws.drop(1006); // no answer, connection lost
  ws = await s.socket(2);
  assert.equal(ws.frames('send').length, 0, 'not sent before hello');
  ws.hello();
  assert.deepEqual(ws.frames('send').map((f) => f.client_msg_id), [id]);
  const stored = msg('R', 1, { from: 'u1', body: 'hi', client_msg_id: id });
  ws.recv({ type: 'message', message: stored });
  ws.recv({ type: 'ack', client_msg_id: id, message: stored });
  assert.deepEqual(await p, stored);
  assert.deepEqual(seen, [{ room: 'R', seq: 1, ack: false }]);
  assert.deepEqual(c.pendingIds(), []);
  c.close();
});

test('send: a refusal pauses the connection, then one send at a time until acks open the window', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { cursors: { R: 0 } });
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  const ps = ['a', 'b', 'c'].map((b) => c.send('R', b));
  const ids = () => ws.frames('send').map((f) => f.body);
  assert.deepEqual(ids(), ['a', 'b', 'c'], 'an open window: all at once');
  const cmid = (body) => ws.frames('send').find((f) => f.body === body).client_msg_id;
  const ack = (body, seq) => ws.recv({ type: 'ack', client_msg_id: cmid(body), message: msg('R', seq, { body, client_msg_id: cmid(body), from: 'u1' }) });
  ws.recv({ type: 'error', code: 'unavailable', message: 'shed', client_msg_id: cmid('a'), retry_after_ms: 40 });
  const pd = c.send('R', 'd');
  await new Promise((r) => setTimeout(r, 80));
  // Past the pause, but b and c are still on the wire and the window is one.
  assert.deepEqual(ids(), ['a', 'b', 'c'], 'nothing while paused or while the window is full');
  ack('b', 1); // window 2, one on the wire: the oldest waiting goes
  assert.deepEqual(ids(), ['a', 'b', 'c', 'a']);
  ack('c', 2); // window 4
  assert.deepEqual(ids(), ['a', 'b', 'c', 'a', 'd']);
  ack('a', 3);
  ack('d', 4);
  assert.deepEqual((await Promise.all([...ps, pd])).map((m) => m.seq), [3, 1, 2, 4]);
  c.close();
});

test('send: a connection that reads nothing while a send waits is replaced and the send goes again; one that keeps reading keeps its place', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { ackTimeoutMs: 40 });
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  const p = c.send('R', { body: 'x', client_msg_id: 'mine-1', reply_to: 3 });
  assert.equal(ws.frames('send').length, 1);
  // Nothing read for the timeout: dead or stuck, replaced.
  const ws2 = await s.socket(2);
  assert.ok(ws.closedByClient !== null, 'the silent connection was closed');
  assert.equal(ws.frames('send').length, 1, 'not written twice on the silent connection');
  ws2.hello();
  await s.until(() => ws2.frames('send').length === 1, 2000, 'the send on the new connection');
  // A busy node: frames keep coming (answers to earlier frames), this one
  // is queued. It is not written again before six timeouts, then it is,
  // on the same connection.
  const start = Date.now();
  const busy = setInterval(() => ws2.recv({ type: 'pong' }), 10);
  try {
    await s.until(() => ws2.frames('send').length >= 2, 3000, 'a resend after six timeouts');
  } finally {
    clearInterval(busy);
  }
  assert.ok(Date.now() - start >= 6 * 40 - 10, `written again after ${Date.now() - start} ms`);
  assert.equal(s.sockets.length, 2, 'a connection that keeps reading is kept');
  for (const f of [...ws.frames('send'), ...ws2.frames('send')]) {
    assert.deepEqual(f, { type: 'send', room_id: 'R', body: 'x', reply_to: 3, client_msg_id: 'mine-1' });
  }
  ws2.recv({ type: 'error', code: 'forbidden', message: 'you are not a member of this room', client_msg_id: 'mine-1' });
  await assert.rejects(p, (e) => e instanceof IMError && e.code === 'forbidden');
  c.close();
});

test('change: edit goes out with its own client_msg_id and resolves to the event', async () => {
  const s = fakeServer();
  const { c } = newClient(s);
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  const p = c.change({ type: 'edit', room_id: 'R', seq: 4, body: 'new' });
  const [f] = ws.frames('edit');
  assert.equal(f.seq, 4);
  assert.ok(f.client_msg_id);
  const ev = msg('R', 9, { kind: 'edit', target: 4, client_msg_id: f.client_msg_id });
  ws.recv({ type: 'ack', client_msg_id: f.client_msg_id, message: ev });
  assert.equal((await p).target, 4);
  c.close();
});

test('send: abort, timeout, close and a full queue reject with their codes', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { maxPending: 2 });
  const ctl = new AbortController();
  const a = c.send('R', 'a', { signal: ctl.signal });
  const b = c.send('R', 'b', { timeoutMs: 20 });
  await assert.rejects(c.send('R', 'c'), (e) => e.code === 'queue_full');
  ctl.abort();
  await assert.rejects(a, (e) => e.code === 'aborted');
  await assert.rejects(b, (e) => e.code === 'timeout');
  const d = c.send('R', 'd');
  c.close();
  await assert.rejects(d, (e) => e.code === 'closed');
  await assert.rejects(c.send('R', 'e'), (e) => e.code === 'closed');
});

test('typed events; resync syncs the room or everything', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { cursors: { R1: 5, R2: 7 } });
  const added = [];
  c.onEvent('friend_added', (d) => added.push(d.room_id));
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  ws.recv({ type: 'event', event: 'friend_added', data: { user: { id: 'u3' }, room_id: 'R9', since: 'x' } });
  ws.recv({ type: 'event', event: 'something_new', data: {} });
  assert.deepEqual(added, ['R9']);
  ws.recv({ type: 'event', event: 'resync', data: { room_id: 'R2', reason: 'gap' } });
  ws.recv({ type: 'event', event: 'resync', data: { reason: 'bus reconnected' } });
  assert.deepEqual(ws.frames('sync').map((f) => f.rooms), [{ R1: 5, R2: 7 }, { R2: 7 }, { R1: 5, R2: 7 }]);
  c.close();
});

test('a room refused in a sync is dropped; one shed is asked again', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { cursors: { R1: 1, R2: 2 } });
  const errors = [];
  c.on('error', (f) => errors.push(f.code));
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  ws.recv({ type: 'error', code: 'forbidden', message: 'no', room_id: 'R1' });
  assert.equal(c.cursor('R1'), undefined);
  ws.recv({ type: 'error', code: 'unavailable', message: 'busy', room_id: 'R2' });
  await s.until(() => ws.frames('sync').length === 2, 2000, 'the sync again');
  assert.deepEqual(ws.frames('sync')[1].rooms, { R2: 2 });
  assert.deepEqual(errors, ['forbidden', 'unavailable']);
  c.close();
});

test('close 4001: revoked, no reconnection; reconnect frame: back soon', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { reconnect: { initialMs: 60000, maxMs: 60000 } });
  const revoked = [];
  c.on('revoked', (r) => revoked.push(r));
  c.connect();
  let ws = await s.socket(1);
  ws.hello();
  ws.recv({ type: 'reconnect', reason: 'server shutting down' });
  ws.drop(1001);
  ws = await s.socket(2, 3000); // within 2 s, not the minute of the back-off
  ws.hello();
  const p = c.send('R', 'x');
  ws.recv({ type: 'event', event: 'session_revoked', data: { all: true, reason: 'password_changed' } });
  ws.drop(4001, 'password_changed');
  assert.deepEqual(revoked, ['password_changed']);
  assert.equal(c.state, 'closed');
  await assert.rejects(p, (e) => e.code === 'closed');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.sockets.length, 2);
});

test('unknown rooms are tracked from 0 (and synced), or passed on untracked', async () => {
  const s = fakeServer();
  const { c, seen } = newClient(s);
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  ws.recv({ type: 'message', message: msg('N', 3) });
  assert.deepEqual(ws.frames('sync').map((f) => f.rooms), [{ N: 0 }]);
  assert.equal(seen.length, 0, 'held until the sync brings what came before');
  ws.recv({ type: 'message', message: msg('N', 1) });
  ws.recv({ type: 'message', message: msg('N', 2) });
  ws.recv({ type: 'synced', room_id: 'N', last_seq: 3, more: false });
  assert.deepEqual(seen.map((x) => x.seq), [1, 2, 3]);
  c.close();

  const s2 = fakeServer();
  const { c: c2, seen: seen2 } = newClient(s2, { trackUnknownRooms: false });
  c2.connect();
  const ws2 = await s2.socket(1);
  ws2.hello();
  ws2.recv({ type: 'message', message: msg('N', 3) });
  ws2.recv({ type: 'message', message: msg('N', 3) });
  assert.equal(seen2.length, 2);
  assert.equal(ws2.frames('sync').length, 0);
  assert.equal(c2.cursor('N'), undefined);
  c2.close();
});

test('bad frames are ignored, the connection stays', async () => {
  const s = fakeServer();
  const { c, seen } = newClient(s, { cursors: { R: 0 } });
  c.connect();
  const ws = await s.socket(1);
  ws.hello();
  ws.recv('not json');
  ws.recv('[1,2]');
  ws.recv({ type: 'message', message: { room_id: 'R', seq: -1 } });
  ws.recv({ type: 'message' });
  ws.recv({ type: 'future_frame', x: 1 });
  ws.recv({ type: 'message', message: msg('R', 1) });
  assert.equal(seen.length, 1);
  assert.equal(c.state, 'open');
  c.close();
});

test('an error without a close (Node 20 after a refused upgrade) and a missing hello reconnect', async () => {
  const s = fakeServer();
  const { c } = newClient(s, { connectTimeoutMs: 50 });
  c.connect();
  const ws1 = await s.socket(1);
  ws1.onerror({}); // and nothing else, as Node 20's WebSocket on a 401
  const ws2 = await s.socket(2, 3000);
  assert.equal(ws1.closedByClient, 1000);
  ws2.readyState = 1; // open, but never says hello
  const ws3 = await s.socket(3, 3000);
  assert.equal(ws2.closedByClient, 1000);
  ws3.hello();
  assert.equal(c.state, 'open');
});
