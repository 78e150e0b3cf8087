/** Recovery by offset: replay of missed messages, no gap and no duplicate, even under load. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { waitFor } from '../../src/lib/waitFor.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import type { ClusterBackend } from '../../src/cluster/backend.ts';
import type { Broker, Recovery } from '../../src/cluster/broker.ts';
import { TopicPublisher } from '../../src/cluster/topicPublisher.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  const clients: WsClient[] = [];
  async function open(): Promise<WsClient> {
    const c = await WsClient.open(gw.wsUrl(APP_A.id));
    clients.push(c);
    return c;
  }
  beforeAll(async () => {
    gw = await startGateway(backend, { HISTORY_SIZE: '50' });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw.stop();
  });

  test('since replays what was missed, in order, before the ack', async () => {
    const first = await open();
    await first.request({ type: 'subscribe', topics: ['r1'] });
    for (let i = 0; i < 5; i++) await publishHttp(gw.http, APP_A, 'r1', i);
    const seen = await first.waitForMessages('r1', 5);
    first.close();
    for (let i = 5; i < 10; i++) await publishHttp(gw.http, APP_A, 'r1', i);

    const again = await open();
    const ack = await again.request({ type: 'subscribe', topics: ['r1'], since: { r1: seen[2]!.offset } });
    expect(ack.recovered).toEqual({ r1: true });
    const ackIndex = again.frames.indexOf(ack);
    const replayed = again.frames.slice(0, ackIndex).filter((f) => f.type === 'message');
    expect(replayed.map((m) => m.data)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  test('since older than history says recovered: false and replays what remains', async () => {
    const offsets: string[] = [];
    for (let i = 0; i < 60; i++) offsets.push(await publishHttp(gw.http, APP_A, 'r2', i));
    const c = await open();
    const ack = await c.request({ type: 'subscribe', topics: ['r2', 'r2b'], since: { r2: offsets[0]!, r2b: '0-0' } });
    expect(ack.recovered).toEqual({ r2: false, r2b: false });
    expect(c.messages('r2').map((m) => m.data)).toEqual(Array.from({ length: 50 }, (_, i) => i + 10));
  });

  test('no gap and no duplicate while messages are published during recovery', async () => {
    const topic = 'busy';
    const total = 400;
    let published = 0;
    const publisher = (async () => {
      for (; published < total; published++) await publishHttp(gw.http, APP_A, topic, published);
    })();
    // Subscribe mid-stream, from an offset observed by a first subscriber.
    const first = await open();
    await first.request({ type: 'subscribe', topics: [topic] });
    const [m] = await first.waitForMessages(topic, 1, 10_000);
    first.close();
    const clientsDuring: WsClient[] = [];
    for (let k = 0; k < 5; k++) {
      const c = await open();
      c.send({ type: 'subscribe', id: 's', topics: [topic], since: { [topic]: m!.offset } });
      clientsDuring.push(c);
    }
    await publisher;
    const firstValue = m!.data as number;
    for (const c of clientsDuring) {
      const ack = await c.reply('s');
      expect(ack.recovered).toEqual({ [topic]: true });
      const got = await c.waitForMessages(topic, total - firstValue - 1, 10_000);
      expect(got.map((x) => x.data)).toEqual(Array.from({ length: total - firstValue - 1 }, (_, i) => firstValue + 1 + i));
    }
  });

  test('messages published around the history read are merged without gap or duplicate', async () => {
    // The gateway sees its backend with the history read surrounded by publishes: some land
    // before the read (in history and in the live buffer: must not repeat), some after (only
    // in the live buffer: must not be lost).
    let armed = false;
    const around = async (app: string, topic: string, when: string) => {
      if (armed) for (let i = 0; i < 3; i++) await publisher.publish(app, topic, `${when}-read-${i}`);
    };
    const local = await startGateway(backend, { INSTANCE_ID: 'race-1' }, {
      wrap: (real) => {
        // Everything else is the real broker's.
        const broker = Object.assign(Object.create(real.broker) as Broker, {
          async readSince(app: string, topic: string, since: string, limit: number): Promise<Recovery> {
            await around(app, topic, 'before');
            const result = await real.broker.readSince(app, topic, since, limit);
            await around(app, topic, 'after');
            return result;
          },
        });
        return Object.assign(Object.create(real) as ClusterBackend, { broker });
      },
    });
    const publisher = new TopicPublisher(local.backend.broker);
    try {
      const live = await WsClient.open(local.wsUrl(APP_A.id));
      await live.request({ type: 'subscribe', topics: ['race'] });
      const start = await publisher.publish(APP_A.id, 'race', 'seen');
      await publisher.publish(APP_A.id, 'race', 'missed');
      const c = await WsClient.open(local.wsUrl(APP_A.id));
      armed = true;
      const ack = await c.request({ type: 'subscribe', topics: ['race'], since: { race: start } });
      armed = false;
      await publisher.publish(APP_A.id, 'race', 'live');
      const got = await c.waitForMessages('race', 8);
      expect(ack.recovered).toEqual({ race: true });
      expect(got.map((m) => m.data)).toEqual(['missed', 'before-read-0', 'before-read-1', 'before-read-2', 'after-read-0', 'after-read-1', 'after-read-2', 'live']);
      live.close();
      c.close();
    } finally {
      await local.stop();
    }
  });

  test('the subscribe ack gives each topic its position, and since from it resumes a topic that had no message yet', async () => {
    const busyOffset = await publishHttp(gw.http, APP_A, 'pos-busy', 'old');
    const c = await open();
    const ack = await c.request({ type: 'subscribe', topics: ['pos-quiet', 'pos-busy'] });
    expect(ack.recovered).toBeUndefined();
    // A topic with messages: the offset of its newest; a quiet one: an offset before its first.
    expect(ack.offsets).toEqual({ 'pos-quiet': expect.stringMatching(/^\d+-\d+$/), 'pos-busy': busyOffset });
    const quiet = (ack.offsets as Record<string, string>)['pos-quiet']!;
    c.close();
    await c.closed;

    const missed = await publishHttp(gw.http, APP_A, 'pos-quiet', 'while away');
    expect(compareOffsets(missed, quiet)).toBeGreaterThan(0);
    const again = await open();
    const resumed = await again.request({ type: 'subscribe', topics: ['pos-quiet'], since: { 'pos-quiet': quiet } });
    expect(resumed.recovered).toEqual({ 'pos-quiet': true });
    expect(resumed.offsets).toEqual({ 'pos-quiet': missed });
    expect(again.messages('pos-quiet').map((m) => m.data)).toEqual(['while away']);
  });

  test('every message after the position in the ack reaches the session, none before it', async () => {
    const topic = 'pos-exact';
    const published: string[] = [];
    let stop = false;
    const publisher = (async () => {
      for (let i = 0; !stop; i++) published.push(await publishHttp(gw.http, APP_A, topic, i));
    })();
    await waitFor(() => published.length >= 5, { what: 'publishing under way' });
    const subscribers = await Promise.all(Array.from({ length: 5 }, () => open()));
    const acks = await Promise.all(subscribers.map((c) => c.request({ type: 'subscribe', topics: [topic] })));
    const atAcks = published.length;
    await waitFor(() => published.length >= atAcks + 20, { what: 'more messages after the subscribes' });
    stop = true;
    await publisher;
    for (const [i, c] of subscribers.entries()) {
      const position = (acks[i]!.offsets as Record<string, string>)[topic]!;
      const expected = published.filter((o) => compareOffsets(o, position) > 0);
      expect(expected.length).toBeGreaterThan(0);
      const got = await c.waitForMessages(topic, expected.length);
      expect(got.map((m) => m.offset)).toEqual(expected);
    }
  });

  test('a since beyond the newest offset goes live, with recovered: false', async () => {
    const topic = 'ahead';
    const newest = await publishHttp(gw.http, APP_A, topic, 'before');
    // An offset this history never issued, e.g. from a store that lost its data.
    const future = `${Number(newest.split('-')[0]) + 3_600_000}-0`;
    const c = await open();
    const ack = await c.request({ type: 'subscribe', topics: [topic], since: { [topic]: future } });
    expect(ack.recovered).toEqual({ [topic]: false });
    expect(ack.offsets).toEqual({ [topic]: newest });
    const after = await publishHttp(gw.http, APP_A, topic, 'after');
    const got = await c.waitForMessages(topic, 1);
    expect(got.map((m) => [m.offset, m.data])).toEqual([[after, 'after']]);
    // It is on the native topic now: the next message arrives once too.
    await publishHttp(gw.http, APP_A, topic, 'later');
    await c.waitForMessages(topic, 2);
    await c.request({ type: 'ping' });
    expect(c.messages(topic).map((m) => m.data)).toEqual(['after', 'later']);
  });
});
