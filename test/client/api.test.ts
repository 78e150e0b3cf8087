/**
 * The client SDK's API against a real gateway (in process, on each cluster backend): subscribe
 * handlers and the unsubscribe function a subscribe() returns (a topic stays while another
 * subscribe() holds it), direct messages (send, the `direct` event, `received`, no replay of
 * what the app already had after a reconnect), topic presence and user status, join/leave
 * events. Binary frames are tested against a small WebSocket server of the test's own that
 * speaks the binary layout of docs/protocol.md with hand-built frames, so that the SDK side
 * does not wait for the gateway's.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { SwitchyardClient, type DirectMessage, type Message, type PresenceEvent } from '../../src/client/index.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { encodeBinaryDirect, encodeBinaryMessage } from '../../src/protocol/binary.ts';
import { BACKENDS } from '../support/backends.ts';
import { publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { hs256 } from '../support/tokens.ts';

const ROOMS = { id: 'rooms', secret: 'secret-of-rooms-0123456789', allowAnonymous: true, allowClientPublish: true, allowDirect: true, presenceTopics: ['room:'] };

for (const backend of BACKENDS) {
  describe(backend, () => {
    let gw: TestGateway;
    const clients: SwitchyardClient[] = [];
    beforeAll(async () => {
      gw = await startGateway(backend, { APPS: JSON.stringify([ROOMS]) });
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await gw.stop();
    });

    async function client(user: string | null): Promise<SwitchyardClient> {
      const token = user === null ? undefined : await hs256(ROOMS.secret, user);
      const c = new SwitchyardClient({ urls: [gw.wsUrl(ROOMS.id).split('?')[0]!], app: ROOMS.id, token, minReconnectDelayMs: 10 });
      clients.push(c);
      await c.ready();
      return c;
    }

    test('subscribe() with a handler; its unsubscribe function keeps topics another subscribe() holds', async () => {
      const c = await client(null);
      const first: unknown[] = [];
      const second: unknown[] = [];
      const all: unknown[] = [];
      c.on('message', (m) => all.push(m.data));
      const stopFirst = await c.subscribe('h1', 'h2', (m: Message) => first.push([m.topic, m.data]));
      const stopSecond = await c.subscribe('h2', (m: Message) => second.push([m.topic, m.data]));
      await publishHttp(gw.http, ROOMS, 'h1', 1);
      await publishHttp(gw.http, ROOMS, 'h2', 2);
      await waitFor(() => first.length === 2 && second.length === 1, { what: 'both handlers' });
      expect(first).toEqual([['h1', 1], ['h2', 2]]);
      expect(second).toEqual([['h2', 2]]);

      await stopFirst(); // h1 goes; h2 stays for the second subscribe()
      expect(c.offset('h1')).toBeNull();
      await publishHttp(gw.http, ROOMS, 'h1', 3);
      await publishHttp(gw.http, ROOMS, 'h2', 4);
      await waitFor(() => second.length === 2, { what: 'h2 after the first unsubscribe' });
      expect(second).toEqual([['h2', 2], ['h2', 4]]);
      expect(first.length).toBe(2);
      await stopSecond();
      const marker = await publishHttp(gw.http, ROOMS, 'h2', 5);
      // Nothing more arrives: a subscribe of a new topic afterwards gets only its own message.
      await c.subscribe('h3');
      await publishHttp(gw.http, ROOMS, 'h3', 6);
      await waitFor(() => all.includes(6), { what: 'the message of h3' });
      expect(all).toEqual([1, 2, 4, 6]);
      expect(marker).toMatch(/^\d+-\d+$/);
    });

    test('send() and the direct event; received() confirms; a reconnect does not hand the app a message twice', async () => {
      const alice = await client('alice-1');
      const bob = await client('bob-1');
      const got: DirectMessage[] = [];
      bob.on('direct', (m) => got.push(m));
      const id1 = await alice.send('bob-1', { text: 'hi' });
      const id2 = await alice.send('bob-1', { text: 'again' });
      await waitFor(() => got.length === 2, { what: 'two direct messages' });
      expect(got.map((m) => [m.messageId, m.from, m.data])).toEqual([
        [id1, 'alice-1', { text: 'hi' }],
        [id2, 'alice-1', { text: 'again' }],
      ]);
      await bob.received(id1);
      const inbox: { pending: number; lost: boolean }[] = [];
      bob.on('inbox', (i) => inbox.push(i));
      // The server replays the unconfirmed id2 on the next connect; the app already had it.
      const session = [...gw.gateway.sessions].find((s) => s.id === bob.sessionId)!;
      session.disconnect(4000, 'reconnect, please');
      await waitFor(() => bob.state === 'open' && bob.sessionId !== session.id, { what: 'bob reconnected' });
      expect(inbox).toEqual([{ pending: 1, lost: false }]);
      const id3 = await alice.send('bob-1', { text: 'third' });
      await waitFor(() => got.length === 3, { what: 'the third message' });
      expect(got.map((m) => m.messageId)).toEqual([id1, id2, id3]);
      await expect(bob.received('1-0')).resolves.toBeUndefined();
      await expect(alice.send('bad user!', 1)).rejects.toMatchObject({ code: 'invalid_frame' });
    });

    test('presence(), userStatus(), join and leave events', async () => {
      const carol = await client('carol-1');
      const dave = await client('dave-1');
      const events: string[] = [];
      const record = (kind: string) => (e: PresenceEvent) => events.push(`${kind} ${e.topic} ${e.user}`);
      carol.on('join', record('join'));
      carol.on('leave', record('leave'));
      await carol.subscribe('room:p1');
      const stopDave = await dave.subscribe('room:p1');
      await waitFor(() => events.includes('join room:p1 dave-1'), { what: "dave's join" });
      const presence = await carol.presence('room:p1');
      expect(presence).toEqual({ count: 2, members: [{ user: 'carol-1', sessions: 1 }, { user: 'dave-1', sessions: 1 }] });
      const status = await carol.userStatus(['dave-1', 'nobody-1']);
      expect([...status]).toEqual([['dave-1', true], ['nobody-1', false]]);
      await stopDave();
      await waitFor(() => events.includes('leave room:p1 dave-1'), { what: "dave's leave" });
      expect(events.filter((e) => e.endsWith('dave-1'))).toEqual(['join room:p1 dave-1', 'leave room:p1 dave-1']);
      expect(await carol.presence('room:p1')).toEqual({ count: 1, members: [{ user: 'carol-1', sessions: 1 }] });
      await expect(carol.presence('not-a-room')).rejects.toMatchObject({ code: 'no_presence' });
    });
  });
}

describe('binary frames (a server of the test that speaks the layout)', () => {
  const received: Uint8Array[] = [];
  let server: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: (req, srv) => (srv.upgrade(req, { data: undefined }) ? undefined : new Response('upgrade', { status: 426 })),
      websocket: {
        open(ws) {
          ws.send(JSON.stringify({ type: 'welcome', sessionId: 's1', instanceId: 'fake', userId: 'erin' }));
        },
        message(ws, data) {
          if (typeof data !== 'string') {
            const bytes = new Uint8Array(data);
            received.push(bytes);
            const id = new TextDecoder().decode(bytes.subarray(2, 2 + bytes[1]!));
            ws.send(JSON.stringify(bytes[0] === 0x11 ? { type: 'ack', id, offset: '5-0' } : { type: 'ack', id, messageId: '9-0' }));
            return;
          }
          const frame = JSON.parse(data) as { type: string; id: string; topics: string[] };
          if (frame.type !== 'subscribe') return;
          ws.send(JSON.stringify({ type: 'ack', id: frame.id, offsets: { pics: '1-0' } }));
          // Bytes, then JSON, then bytes again on one topic (one offset order); a duplicate; a malformed frame.
          ws.send(encodeBinaryMessage('pics', '2-0', new Uint8Array([0x89, 0x50, 0x4e, 0x47])));
          ws.send(JSON.stringify({ type: 'message', topic: 'pics', offset: '3-0', data: 'text' }));
          ws.send(encodeBinaryMessage('pics', '3-0', new Uint8Array([1])));
          ws.send(new Uint8Array([0x01, 0x00, 0x09]));
          ws.send(encodeBinaryMessage('pics', '4-0', new Uint8Array(0)));
          ws.send(encodeBinaryDirect('7-0', null, new Uint8Array([0xff, 0x00])));
          ws.send(encodeBinaryDirect('8-0', 'frank', new Uint8Array([1, 2, 3])));
        },
      },
    });
  });
  afterAll(() => server.stop(true));

  test('binary messages and direct messages reach the app as Uint8Array, in offset order with JSON ones; bytes go out as 0x11/0x12', async () => {
    const c = new SwitchyardClient({ urls: [`ws://127.0.0.1:${server.port}/ws`], app: 'any' });
    try {
      const got: Message[] = [];
      const direct: DirectMessage[] = [];
      c.on('direct', (m) => direct.push(m));
      await c.subscribe('pics', (m: Message) => got.push(m));
      await waitFor(() => got.length === 3 && direct.length === 2, { what: 'the frames of the server' });
      expect(got.map((m) => [m.offset, m.data])).toEqual([
        ['2-0', new Uint8Array([0x89, 0x50, 0x4e, 0x47])],
        ['3-0', 'text'],
        ['4-0', new Uint8Array(0)],
      ]);
      expect(got[0]!.data).toBeInstanceOf(Uint8Array);
      expect(direct).toEqual([
        { type: 'direct', messageId: '7-0', from: null, data: new Uint8Array([0xff, 0x00]) },
        { type: 'direct', messageId: '8-0', from: 'frank', data: new Uint8Array([1, 2, 3]) },
      ]);

      expect(await c.publish('pics', new Uint8Array([0xca, 0xfe]))).toBe('5-0');
      expect(await c.send('frank', new Uint16Array([0x0102]).buffer)).toBe('9-0');
      const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
      // The request ID (u8 length, then the ID) is the SDK's: read from the frame.
      const [publish, send] = received.map((b) => ({ kind: b[0], id: new TextDecoder().decode(b.subarray(2, 2 + b[1]!)), rest: hex(b.subarray(2 + b[1]!)) }));
      expect(publish).toEqual({ kind: 0x11, id: expect.stringMatching(/^c\d+$/), rest: '00 04 70 69 63 73 ca fe' });
      expect(send).toEqual({ kind: 0x12, id: expect.stringMatching(/^c\d+$/), rest: `05 66 72 61 6e 6b ${hex(new Uint8Array(new Uint16Array([0x0102]).buffer))}` });
    } finally {
      c.close();
    }
  });
});
