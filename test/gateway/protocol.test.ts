/** Protocol v1 over real WebSockets against an in-process gateway on a free port. */
import { beforeAll, describe, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, APP_STRICT, publishHttp, useGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';
import { waitFor } from '../../src/lib/waitFor.ts';

for (const backend of BACKENDS) describe(backend, () => {
  const fixture = useGateway(backend);
  const open = (url: string) => fixture.open(url);
  let gw: TestGateway;
  beforeAll(() => {
    gw = fixture.gw;
  });

  describe('protocol v1', () => {
    test('welcome names the session, the instance and the user', async () => {
      const token = await sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 }, APP_STRICT.secret, 'HS256');
      const c = await open(gw.wsUrl(APP_STRICT.id, token));
      const welcome = c.frames[0]!;
      expect(welcome).toMatchObject({ type: 'welcome', instanceId: gw.config.instanceId, userId: 'alice' });
      expect(typeof welcome.sessionId).toBe('string');
      const anon = await open(gw.wsUrl(APP_A.id));
      expect(anon.frames[0]).toMatchObject({ type: 'welcome', userId: null });
      expect(anon.frames[0]!.sessionId).not.toBe(welcome.sessionId);
    });

    test('subscribe to several topics, receive what is published to each, in order', async () => {
      const sub = await open(gw.wsUrl(APP_A.id));
      const ack = await sub.request({ type: 'subscribe', topics: ['p1', 'p2'] });
      // Topics with no message yet: positions before their first message.
      expect(ack as unknown).toEqual({ type: 'ack', id: 'r1', offsets: { p1: expect.stringMatching(/^\d+-\d+$/), p2: expect.stringMatching(/^\d+-\d+$/) } });
      for (let i = 0; i < 20; i++) await publishHttp(gw.http, APP_A, i % 2 ? 'p1' : 'p2', { i });
      const p1 = await sub.waitForMessages('p1', 10);
      const p2 = await sub.waitForMessages('p2', 10);
      expect(p1.map((m) => (m.data as { i: number }).i)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
      expect(p2.map((m) => (m.data as { i: number }).i)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
      expect(p1[0]).toMatchObject({ type: 'message', topic: 'p1' });
      expect(typeof p1[0]!.offset).toBe('string');
    });

    test('client publish acks with the offset the subscribers see', async () => {
      const sub = await open(gw.wsUrl(APP_A.id));
      const pub = await open(gw.wsUrl(APP_A.id));
      await sub.request({ type: 'subscribe', topics: ['chat'] });
      const ack = await pub.request({ type: 'publish', topic: 'chat', data: 'hello' });
      expect(ack.type).toBe('ack');
      const [msg] = await sub.waitForMessages('chat', 1);
      expect(msg).toEqual({ type: 'message', topic: 'chat', offset: ack.offset as string, data: 'hello' });
    });

    test('text and structured payloads arrive unchanged', async () => {
      const sub = await open(gw.wsUrl(APP_A.id));
      await sub.request({ type: 'subscribe', topics: ['payloads'] });
      const values = ['plain text', 'ünïcødé ✓', 0, -1.5, true, null, [1, [2]], { nested: { deep: ['x'] } }, ''];
      for (const v of values) await publishHttp(gw.http, APP_A, 'payloads', v);
      const got = await sub.waitForMessages('payloads', values.length);
      expect(got.map((m) => m.data)).toEqual(values);
    });

    test('unsubscribe stops delivery of that topic only', async () => {
      const sub = await open(gw.wsUrl(APP_A.id));
      await sub.request({ type: 'subscribe', topics: ['u1', 'u2'] });
      expect(await sub.request({ type: 'unsubscribe', topics: ['u1'] })).toMatchObject({ type: 'ack' });
      await publishHttp(gw.http, APP_A, 'u1', 'gone');
      await publishHttp(gw.http, APP_A, 'u2', 'kept');
      await sub.waitForMessages('u2', 1);
      // The u2 message was published after u1's: had u1 been delivered, it would be here already.
      expect(sub.messages('u1')).toEqual([]);
    });

    test('ping gets pong with the same id', async () => {
      const c = await open(gw.wsUrl(APP_A.id));
      expect(await c.request({ type: 'ping' })).toEqual({ type: 'pong', id: 'r1' });
    });

    test('subscribing twice to a topic delivers each message once', async () => {
      const sub = await open(gw.wsUrl(APP_A.id));
      await sub.request({ type: 'subscribe', topics: ['twice'] });
      await sub.request({ type: 'subscribe', topics: ['twice', 'twice'] });
      await publishHttp(gw.http, APP_A, 'twice', 1);
      await publishHttp(gw.http, APP_A, 'twice', 2);
      await sub.waitForMessages('twice', 2);
      const pong = await sub.request({ type: 'ping' });
      expect(pong.type).toBe('pong');
      expect(sub.messages('twice').length).toBe(2);
    });

    test('a closed session releases its subscriptions', async () => {
      const sub = await open(gw.wsUrl(APP_A.id));
      await sub.request({ type: 'subscribe', topics: ['released'] });
      const before = gw.gateway.hub.topicCount;
      sub.close();
      await sub.closed;
      await waitFor(() => gw.gateway.hub.topicCount === before - 1, { what: 'topic released' });
    });
  });
});
