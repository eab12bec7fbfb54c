// The SDK against the real server (run by internal/sdktest, which starts a
// standalone server on 127.0.0.1 and registers two friends, Alice and Bob).
// Needs a WebSocket: Node 22, or Node 20 with --experimental-websocket.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, IMError, Rest } from '../dist/index.js';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: this test is run by internal/sdktest (go test ./internal/sdktest)`);
  return v;
};
const HTTP = env('IM_SDK_HTTP_URL');
const WS = env('IM_SDK_WS_URL');
const ROOM = env('IM_SDK_ROOM');
const A = { id: env('IM_SDK_A_ID'), token: env('IM_SDK_A_TOKEN'), refresh: env('IM_SDK_A_REFRESH') };
const B = { id: env('IM_SDK_B_ID'), token: env('IM_SDK_B_TOKEN') };

const clients = [];
after(() => { for (const c of clients) c.close(); });

function client(user, extra = {}) {
  const c = new Client({ url: WS, token: user.token, reconnect: { initialMs: 100, maxMs: 1000 }, ...extra });
  clients.push(c);
  const got = [];
  c.on('message', (m) => got.push(m));
  return { c, got };
}

/** Resolves when pred() is true; fails after ms. */
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends like a real client: the SDK retries unavailable itself, same client_msg_id. */
function send(c, body, extra = {}) {
  return c.send(ROOM, { body, ...extra }, { timeoutMs: 20000 });
}

test('REST: the conversations give the shared room', async () => {
  const rest = new Rest({ baseUrl: HTTP, token: A.token });
  const convs = await rest.conversations();
  const conv = convs.find((x) => x.room_id === ROOM);
  assert.ok(conv, 'the friends room is listed');
  assert.equal(conv.type, 'direct');
  await assert.rejects(new Rest({ baseUrl: HTTP, token: 'not-a-token' }).conversations(),
    (e) => e instanceof IMError && e.code === 'unauthenticated' && e.status === 401);
});

test('live delivery, acks, idempotent retries, typed events, sync after a reconnect', async () => {
  const { c: a } = client(A, { cursors: { [ROOM]: 0 } });
  const { c: b, got: bGot } = client(B, { cursors: { [ROOM]: 0 } });
  const opened = new Promise((r) => a.on('open', r));
  a.connect();
  b.connect();
  const hello = await opened;
  assert.equal(hello.user_id, A.id);
  await until(() => b.state === 'open', 10000, 'Bob open');

  // A message: acked (stored) for Alice, delivered once to Bob.
  const m1 = await send(a, 'hello Bob', { client_msg_id: 'sdk-it-1' });
  assert.equal(m1.room_id, ROOM);
  assert.equal(m1.from, A.id);
  assert.equal(m1.client_msg_id, 'sdk-it-1');
  await until(() => bGot.some((m) => m.seq === m1.seq), 10000, 'Bob gets it live');

  // The same client_msg_id again is the same message: same seq, one copy.
  const again = await send(a, 'hello Bob', { client_msg_id: 'sdk-it-1' });
  assert.equal(again.seq, m1.seq);
  assert.equal(again.id, m1.id);

  // Typed events: Bob reads, Alice hears the read receipt; Alice types.
  const readSeen = new Promise((r) => a.onEvent('read', (d) => { if (d.room_id === ROOM && d.user_id === B.id) r(d); }));
  const typingSeen = new Promise((r) => b.onEvent('typing', (d) => { if (d.room_id === ROOM && d.on) r(d); }));
  assert.ok(b.read(ROOM, m1.seq));
  assert.ok(a.typing(ROOM, true));
  assert.equal((await readSeen).seq, m1.seq);
  assert.equal((await typingSeen).user_id, A.id);

  // Errors that are final reject with the contract's code.
  await assert.rejects(a.send(ROOM, 'x'.repeat(4001)), (e) => e instanceof IMError && e.code === 'payload_too_large');
  await assert.rejects(a.send('01HV6Q5N7ZK3M8R2T4W6Y8A0BC', 'nobody'), (e) => e instanceof IMError && e.code === 'forbidden');

  // Bob goes away for good; Alice sends three; a new client for Bob that
  // starts from the old one's cursors gets exactly those three by sync.
  const cursors = b.cursors();
  assert.equal(cursors[ROOM], m1.seq);
  b.close();
  const sent = [];
  for (let i = 0; i < 3; i++) sent.push(await send(a, `missed ${i}`));
  const { c: b2, got: b2Got } = client(B, { cursors });
  const synced = new Promise((r) => b2.on('synced', (f) => { if (f.room_id === ROOM && !f.more) r(f); }));
  b2.connect();
  const f = await synced;
  assert.equal(f.last_seq, sent[2].seq);
  assert.deepEqual(b2Got.map((m) => m.seq), sent.map((m) => m.seq));
  assert.deepEqual(b2Got.map((m) => m.body), ['missed 0', 'missed 1', 'missed 2']);

  // The connection drops under Bob (as a network failure would): the client
  // reconnects by itself and catches up on what was sent meanwhile, once.
  const states = [];
  b2.on('state', (s) => states.push(s));
  const before = b2Got.length;
  b2['ws'].close(); // the socket itself, not the client
  await until(() => b2.state === 'reconnecting', 5000, 'reconnecting');
  const during = [];
  for (let i = 0; i < 3; i++) during.push(await send(a, `during ${i}`));
  await until(() => b2.state === 'open', 10000, 'open again');
  await until(() => b2Got.length >= before + 3, 10000, 'the messages sent during the outage');
  const seqs = b2Got.map((m) => m.seq);
  assert.deepEqual(seqs.slice(before), during.map((m) => m.seq), 'in order, once');
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
  assert.ok(states.includes('reconnecting') && states.at(-1) === 'open', `states ${states}`);
  assert.equal(b2.cursor(ROOM), during[2].seq);
});

test('a send made while disconnected goes out after the connection opens', async () => {
  const { c: a } = client(A);
  const p = send(a, 'queued before connect', { client_msg_id: 'sdk-it-queued' });
  a.connect();
  const m = await p;
  assert.equal(m.body, 'queued before connect');
  a.close();
});

test('a refused token is refreshed through the token function', async () => {
  const rest = new Rest({ baseUrl: HTTP });
  let calls = 0;
  const ctxs = [];
  const { c } = client(A, {
    token: async (ctx) => {
      ctxs.push(ctx);
      calls++;
      if (calls === 1) return 'expired-or-bad-token'; // refused with 401
      const s = await rest.refresh(A.refresh);
      return s.access_token;
    },
  });
  c.connect();
  await until(() => c.state === 'open', 15000, 'open with the refreshed token');
  assert.equal(c.hello.user_id, A.id);
  assert.deepEqual(ctxs.map((x) => x.refresh), [false, true]);
});

test('a long absence: sync pages with more until caught up; sends over the rate are retried', { timeout: 60000 }, async () => {
  const { c: a } = client(A);
  const { c: b0 } = client(B, { cursors: { [ROOM]: 0 } });
  // Bob's cursor as of now: caught up.
  let caughtUp = false;
  b0.on('synced', (f) => { if (f.room_id === ROOM && !f.more) caughtUp = true; });
  a.connect();
  b0.connect();
  await until(() => a.state === 'open' && caughtUp, 10000, 'Alice open, Bob caught up');
  const cursors = b0.cursors();
  b0.close();
  // 130 messages at once: more than a sync page (100) and than the
  // gateway's send burst (40, then 20 a second): some are answered
  // rate_limited and the SDK sends them again, same client_msg_id.
  let limited = 0;
  a.on('frame', (f) => { if (f.type === 'error' && f.code === 'rate_limited') limited++; });
  const N = 130;
  const acks = await Promise.all(Array.from({ length: N }, (_, i) => send(a, `bulk ${i}`, { client_msg_id: `sdk-it-bulk-${i}` })));
  const seqs = acks.map((m) => m.seq).sort((x, y) => x - y);
  assert.equal(new Set(seqs).size, N, 'one message per client_msg_id');
  assert.ok(limited > 0, 'the gateway answered some sends rate_limited');
  const { c: b, got } = client(B, { cursors });
  const pages = [];
  b.on('synced', (f) => { if (f.room_id === ROOM) pages.push(f.more); });
  b.connect();
  await until(() => pages.length > 0 && pages.at(-1) === false, 30000, 'caught up');
  assert.ok(pages.length >= 2 && pages[0] === true, `synced pages ${pages}`);
  const mine = got.filter((m) => m.room_id === ROOM).map((m) => m.seq);
  assert.deepEqual(mine, seqs, 'every message once, in seq order');
  assert.equal(b.cursor(ROOM), seqs.at(-1));
});
