// Compiled (never run) by `make sdk-js` against the published declarations
// (dist/index.d.ts): the package's types let an application write this, and
// reject what is marked @ts-expect-error.
import { Client, IMError, Rest, type ConnectionState, type Message } from '../../dist/index.js';

declare const WS: new (url: string) => {
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
};

export async function usage(): Promise<number> {
  const rest = new Rest({ baseUrl: 'http://127.0.0.1:8080' });
  const s = await rest.login('ada', 'pw');
  const client = new Client({
    url: ['ws://127.0.0.1:8080/ws'],
    WebSocket: WS,
    token: async (ctx) => (ctx.refresh ? (await rest.refresh(s.refresh_token)).access_token : s.access_token),
  });
  const off = client.on('message', (m: Message, info) => { const n: number = m.seq; void n; void info.ack; });
  client.on('state', (st: ConnectionState) => { void st; });
  client.onEvent('friend_added', (d) => { const room: string = d.room_id; const acc: string = d.user.account; void room; void acc; });
  client.onEvent('read_counts', (d) => { for (const c of d.counts) void (c.seq + c.read); });
  client.onEvent('typing', (d) => { const on: boolean = d.on; void on; });
  // @ts-expect-error: not an event name
  client.onEvent('no_such_event', () => {});
  // @ts-expect-error: a typing event has no `group`
  client.onEvent('typing', (d) => d.group);
  // @ts-expect-error: not a client event
  client.on('nope', () => {});
  for (const c of await rest.conversations()) client.track(c.room_id, c.last_seq);
  client.connect();
  off();
  try {
    const m = await client.send('room', { body: 'hi', reply_to: 3, mentions: ['u'] });
    await client.change({ type: 'react', room_id: 'room', seq: m.seq, emoji: '👍' });
    // @ts-expect-error: react needs an emoji
    await client.change({ type: 'react', room_id: 'room', seq: m.seq });
    return m.seq;
  } catch (e) {
    if (e instanceof IMError) return e.code.length;
    throw e;
  }
}
