/**
 * Gap-free recovery across instances on real Redis: a client hops between two instances
 * (each hop resubscribes with `since` on the other one) while messages are published
 * concurrently through both. The client must see every message exactly once, in order.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { APP_A, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const prefix = uniquePrefix('recovery');
const gateways: TestGateway[] = [];

function backend(instanceId: string): RedisBackend {
  return new RedisBackend(
    {
      url: REDIS_URL,
      cluster: false,
      keyPrefix: prefix,
      instanceId,
      historySize: 10_000,
      historyMaxAgeMs: 600_000,
      instanceTtlMs: 5000,
      reapIntervalMs: 1000,
      resumeWindowMs: 60_000,
      inbox: { batchSize: 256, blockTimeInMs: 500, maxLength: 100_000 },
    },
    silentLogger,
  );
}

beforeAll(async () => {
  await requireRedis();
  for (const id of ['rec-a', 'rec-b']) gateways.push(await startGateway(backend(id), { INSTANCE_ID: id, RATE_LIMIT_FRAMES_PER_SEC: '10000', RATE_LIMIT_BURST: '10000' }));
});
afterAll(async () => {
  for (const g of gateways) await g.stop();
  const admin = testClient();
  await deleteKeysUnder(admin, prefix);
  admin.disconnect();
});

test('a client hopping between instances under concurrent publishing misses nothing and sees nothing twice', async () => {
  const topic = 'hop';
  const total = 2000;
  const published: string[] = [];
  const seen: { offset: string; data: number }[] = [];

  // Subscribed before the first publish: from here on, nothing may be missed.
  let client = await WsClient.open(gateways[0]!.wsUrl(APP_A.id));
  await client.request({ type: 'subscribe', topics: [topic] });

  // Sixteen publishers, eight per instance, racing on the same topic: enough that publishes
  // land inside every hop's few-millisecond resubscribe window.
  const lanes = 16;
  let finished = false;
  const done = Promise.all(
    Array.from({ length: lanes }, async (_, k) => {
      for (let i = k; i < total; i += lanes) published.push(await publishHttp(gateways[k % 2]!.http, APP_A, topic, i));
    }),
  ).then(() => (finished = true));

  let hops = 0;
  for (;;) {
    // Stay for a few messages, then leave abruptly and resume on the other instance.
    const current = client;
    await waitFor(() => current.messages(topic).length >= 40 || finished, { timeoutMs: 10_000, what: 'messages or the end of publishing' });
    client.close();
    await client.closed;
    for (const m of client.messages(topic)) seen.push({ offset: m.offset as string, data: m.data as number });
    if (finished && hops >= 2) break;
    hops += 1;
    const last = seen.length > 0 ? seen[seen.length - 1]!.offset : null;
    client = await WsClient.open(gateways[hops % 2]!.wsUrl(APP_A.id));
    const ack = await client.request(last ? { type: 'subscribe', topics: [topic], since: { [topic]: last } } : { type: 'subscribe', topics: [topic] });
    if (last) expect(ack.recovered).toEqual({ [topic]: true });
  }
  await done;
  // A final hop collects whatever was published after the last one.
  const final = await WsClient.open(gateways[(hops + 1) % 2]!.wsUrl(APP_A.id));
  await final.request({ type: 'subscribe', topics: [topic], since: { [topic]: seen[seen.length - 1]!.offset } });
  for (const m of await final.waitForMessages(topic, total - seen.length, 10_000)) seen.push({ offset: m.offset as string, data: m.data as number });
  final.close();

  expect(hops).toBeGreaterThanOrEqual(2);
  // Exactly the published offsets, each once, in offset order.
  expect(seen.map((m) => m.offset)).toEqual([...published].sort(compareOffsets));
  expect(new Set(seen.map((m) => m.data)).size).toBe(total);
});

test('subscribers on both instances receive every message once, in order', async () => {
  const topic = 'both';
  const subs = await Promise.all(gateways.flatMap((g) => [0, 1, 2].map(() => WsClient.open(g.wsUrl(APP_A.id)))));
  for (const s of subs) await s.request({ type: 'subscribe', topics: [topic] });
  const offsets: string[] = [];
  for (let i = 0; i < 200; i++) offsets.push(await publishHttp(gateways[i % 2]!.http, APP_A, topic, i));
  for (const s of subs) {
    const got = await s.waitForMessages(topic, 200, 10_000);
    expect(got.map((m) => m.offset)).toEqual(offsets);
    expect(got.map((m) => m.data)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    s.close();
  }
});

test('a quiet topic resumes on the other instance from the position its subscribe ack gave', async () => {
  const topic = 'quiet';
  const first = await WsClient.open(gateways[0]!.wsUrl(APP_A.id));
  const ack = await first.request({ type: 'subscribe', topics: [topic] });
  const position = (ack.offsets as Record<string, string>)[topic]!;
  expect(position).toMatch(/^\d+-\d+$/);
  first.close();
  await first.closed;
  const missed = await publishHttp(gateways[1]!.http, APP_A, topic, 'while away');
  const again = await WsClient.open(gateways[1]!.wsUrl(APP_A.id));
  const resumed = await again.request({ type: 'subscribe', topics: [topic], since: { [topic]: position } });
  expect(resumed.recovered).toEqual({ [topic]: true });
  expect(resumed.offsets).toEqual({ [topic]: missed });
  expect(again.messages(topic).map((m) => m.data)).toEqual(['while away']);
  again.close();
});

test('a since beyond the newest offset (a Redis that lost its data) goes live, with recovered: false', async () => {
  const topic = 'lost';
  const before = await publishHttp(gateways[0]!.http, APP_A, topic, 'before');
  // What a client holds after Redis lost the stream and its clock moved on: an offset the
  // new stream has not reached.
  const admin = testClient();
  await admin.del(`${prefix}{t:${APP_A.id}:${topic}}:h`);
  admin.disconnect();
  const newest = await publishHttp(gateways[0]!.http, APP_A, topic, 'after the loss');
  const held = `${Number(before.split('-')[0]) + 3_600_000}-0`;
  const c = await WsClient.open(gateways[1]!.wsUrl(APP_A.id));
  const ack = await c.request({ type: 'subscribe', topics: [topic], since: { [topic]: held } });
  expect(ack.recovered).toEqual({ [topic]: false });
  expect(ack.offsets).toEqual({ [topic]: newest });
  const live = await publishHttp(gateways[0]!.http, APP_A, topic, 'live');
  const got = await c.waitForMessages(topic, 1);
  expect(got.map((m) => [m.offset, m.data])).toEqual([[live, 'live']]);
  c.close();
});
