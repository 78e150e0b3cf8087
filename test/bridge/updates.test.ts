/**
 * The bridge as it runs in production: a real bridge process between real RabbitMQ and real
 * Redis, and two real gateway processes whose WebSocket subscribers must receive what
 * producers publish to the updates exchange. Covers delivery of text and structured
 * payloads, tenancy, every kind of invalid update (dead-lettered with its reason, never
 * blocking the queue, never stopping the bridge), dedupe of redelivered updates by update
 * `id` and by AMQP `messageId`, and the /healthz, /readyz and /metrics endpoints.
 *
 * The file owns an AMQP prefix and a Redis key prefix; afterAll kills every process it
 * started and deletes the queues, exchanges and keys.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Redis } from 'ioredis';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, tails, type BridgeProcess } from '../support/bridgeProcess.ts';
import { APP_A, APP_B } from '../support/gateway.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const AMQP_PREFIX = uniqueAmqpPrefix('bridge-updates');
const REDIS_PREFIX = uniquePrefix('bridge-updates');
const keys = new Keys(REDIS_PREFIX);
/** Small, so that an oversized update is cheap to build; the minimum config allows is 256. */
const MAX_FRAME_BYTES = 2048;
/** Each test waits on a few conditions of 5 s at most; each normally takes well under 1 s. */
const TEST_TIMEOUT_MS = 20_000;

let broker: TestBroker | null = null;
let admin: Redis | null = null;
let bridge: BridgeProcess | null = null;
const gateways: GatewayProcess[] = [];
/** `subscribers[i]` is connected to `gateways[i]` as app-a; `tenantB` to gateways[1] as app-b. */
const subscribers: WsClient[] = [];
let tenantB: WsClient | null = null;
/** Valid updates published so far: what the bridge must count as stored. */
let validPublished = 0;

function logs(): string {
  return tails([
    ...(bridge ? [{ name: 'bridge', output: bridge.output }] : []),
    ...gateways.map((g, i) => ({ name: `gateway ${i + 1}`, output: g.output })),
  ]);
}

function wait<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  return waitFor(check, { what, timeoutMs, intervalMs: 20 }).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs()}`);
  });
}

async function subscribe(client: WsClient, topics: string[]): Promise<void> {
  const ack = await client.request({ type: 'subscribe', topics });
  expect(ack.type).toBe('ack');
}

async function publishValid(update: { app: string; topic: string; data: unknown; id?: string }, options: { messageId?: string } = {}): Promise<void> {
  await broker!.publishUpdate(update, options);
  validPublished += 1;
}

/** Data of the messages a client received on a topic, in arrival order. */
function received(client: WsClient, topic: string): unknown[] {
  return client.messages(topic).map((f) => f.data);
}

beforeAll(async () => {
  await requireRabbit();
  await requireRedis();
  admin = testClient();
  const apps = JSON.stringify([APP_A, APP_B]);
  // The bridge declares the topology: it must be up before anything is published.
  bridge = await spawnBridge({
    REDIS_URL,
    REDIS_KEY_PREFIX: REDIS_PREFIX,
    AMQP_URL,
    AMQP_PREFIX,
    APPS: apps,
    MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
    INSTANCE_ID: 'updates',
  });
  broker = await TestBroker.open(AMQP_PREFIX);
  gateways.push(
    ...(await Promise.all(
      ['gw-1', 'gw-2'].map((id) => spawnGateway({ REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, INSTANCE_ID: id, APPS: apps, DRAIN_TIMEOUT_MS: '500' })),
    )),
  );
  for (const g of gateways) {
    const s = await WsClient.open(`ws://127.0.0.1:${g.port}/ws?app=${APP_A.id}`);
    await subscribe(s, ['news', 'prices', 'dedupe', 'after-bad']);
    subscribers.push(s);
  }
  tenantB = await WsClient.open(`ws://127.0.0.1:${gateways[1]!.port}/ws?app=${APP_B.id}`);
  await subscribe(tenantB, ['news']);
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  for (const s of [...subscribers, tenantB]) s?.close();
  // SIGKILL: nothing here depends on a graceful stop, and a hung stop must not hang the file.
  await Promise.all([bridge?.stop('SIGKILL'), ...gateways.map((g) => g.stop('SIGKILL'))]);
  await broker?.cleanup();
  if (admin) {
    await deleteKeysUnder(admin, REDIS_PREFIX);
    admin.disconnect();
  }
});

test('a text update published to RabbitMQ reaches the subscribers on every instance', async () => {
  await publishValid({ app: APP_A.id, topic: 'news', data: 'hello from the data center' });
  await wait(() => subscribers.every((s) => s.messages('news').length === 1), 'the text update at both subscribers');
  for (const s of subscribers) expect(received(s, 'news')).toEqual(['hello from the data center']);
}, TEST_TIMEOUT_MS);

test('structured payloads arrive intact and in publish order; another app never sees them', async () => {
  const payloads: unknown[] = [
    { price: 101.25, currency: 'EUR', tags: ['a', 'b'], nested: { deep: [1, { x: null }], ok: true } },
    [1, 'two', { three: 3 }],
    42,
    null,
    false,
    'unicode ✓ — ünïcödé 😀',
  ];
  for (const data of payloads) await publishValid({ app: APP_A.id, topic: 'prices', data });
  // The same topic name in another app goes only to that app's subscriber.
  await publishValid({ app: APP_B.id, topic: 'news', data: { tenant: 'b' } });
  await wait(() => subscribers.every((s) => s.messages('prices').length === payloads.length), 'every structured update at both subscribers');
  for (const s of subscribers) expect(received(s, 'prices')).toEqual(payloads);

  await wait(() => tenantB!.messages('news').length === 1, 'the app-b update at the app-b subscriber');
  expect(received(tenantB!, 'news')).toEqual([{ tenant: 'b' }]);
  // Offsets increase in publish order.
  const offsets = subscribers[0]!.messages('prices').map((f) => String(f.offset));
  expect([...offsets].sort(compareOffsets)).toEqual(offsets);
  expect(new Set(offsets).size).toBe(offsets.length);
  // app-a subscribers still hold only the app-a message on `news`.
  for (const s of subscribers) expect(received(s, 'news')).toEqual(['hello from the data center']);
}, TEST_TIMEOUT_MS);

test('every kind of invalid update is dead-lettered with its reason, and blocks nothing', async () => {
  const oversized = JSON.stringify({ app: APP_A.id, topic: 'after-bad', data: 'x'.repeat(MAX_FRAME_BYTES) });
  const bad: { body: string; reason: RegExp }[] = [
    { body: '{"app":"app-a","topic":', reason: /^invalid_json$/ },
    { body: 'not json at all', reason: /^invalid_json$/ },
    { body: JSON.stringify({ app: APP_A.id, data: 'no topic' }), reason: /^invalid_update: topic: / },
    { body: JSON.stringify({ app: APP_A.id, topic: 'news' }), reason: /^invalid_update: data: / },
    { body: JSON.stringify({ app: APP_A.id, topic: 'has space', data: 1 }), reason: /^invalid_update: topic: topic: 1-200 of / },
    { body: JSON.stringify({ app: APP_A.id, topic: 'x'.repeat(201), data: 1 }), reason: /^invalid_update: topic: / },
    { body: JSON.stringify({ app: 42, topic: 'news', data: 1 }), reason: /^invalid_update: app: / },
    { body: JSON.stringify({ app: APP_A.id, topic: ['news'], data: 1 }), reason: /^invalid_update: topic: / },
    { body: JSON.stringify({ app: APP_A.id, topic: 'news', data: 1, id: 7 }), reason: /^invalid_update: id: / },
    { body: JSON.stringify({ app: APP_A.id, topic: 'news', data: 1, id: '' }), reason: /^invalid_update: id: / },
    { body: JSON.stringify(['app-a', 'news', 1]), reason: /^invalid_update: / },
    { body: JSON.stringify({ app: 'no-such-app', topic: 'news', data: 1 }), reason: /^unknown_app: no-such-app$/ },
    { body: oversized, reason: new RegExp(`^too_large: over ${MAX_FRAME_BYTES} bytes$`) },
  ];
  expect(oversized.length).toBeGreaterThan(MAX_FRAME_BYTES);
  for (const b of bad) await broker!.publishRaw(b.body);
  await publishValid({ app: APP_A.id, topic: 'after-bad', data: 'valid after the bad ones' });

  // The valid update behind them is delivered: nothing blocked the queue.
  await wait(() => subscribers.every((s) => s.messages('after-bad').length === 1), 'the valid update published after the invalid ones');
  for (const s of subscribers) expect(received(s, 'after-bad')).toEqual(['valid after the bad ones']);

  const dead: { body: string; reason: string }[] = [];
  await wait(async () => {
    dead.push(...(await broker!.drainDead()));
    return dead.length >= bad.length;
  }, `${bad.length} messages in the dead-letter queue`);
  expect(dead).toHaveLength(bad.length);
  for (const b of bad) {
    const match = dead.find((d) => d.body === b.body);
    expect(match, `dead-lettered: ${b.body.slice(0, 80)}`).toBeDefined();
    expect(match!.reason).toMatch(b.reason);
  }
  // Nothing was stored for the invalid ones: app-a's `news` history holds only the first test's update.
  expect(await admin!.xlen(keys.history(APP_A.id, 'news'))).toBe(1);
  expect(await broker!.queueDepth(broker!.names.updatesQueue)).toBe(0);

  // The bridge is alive and well.
  expect(bridge!.proc.exitCode).toBeNull();
  const health = await fetch(`http://127.0.0.1:${bridge!.port}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok' });
  expect((await bridge!.readiness()).status).toBe(200);
}, TEST_TIMEOUT_MS);

test('a redelivered update is delivered once: same AMQP messageId, or same update id', async () => {
  const byMessageId = { app: APP_A.id, topic: 'dedupe', data: 'once by messageId' };
  await publishValid(byMessageId, { messageId: 'mid-1' });
  await publishValid(byMessageId, { messageId: 'mid-1' });
  // The update's own id wins over the AMQP messageId: different messageIds, one update.
  const byUpdateId = { app: APP_A.id, topic: 'dedupe', data: 'once by update id', id: 'update-1' };
  await publishValid(byUpdateId, { messageId: 'mid-2' });
  await publishValid(byUpdateId, { messageId: 'mid-3' });
  await publishValid(byUpdateId);
  // Same data, different IDs: two updates.
  await publishValid({ app: APP_A.id, topic: 'dedupe', data: 'twice', id: 'update-2' });
  await publishValid({ app: APP_A.id, topic: 'dedupe', data: 'twice', id: 'update-3' });
  // Per-topic order: once the sentinel is there, any repeat would have arrived before it.
  await publishValid({ app: APP_A.id, topic: 'dedupe', data: 'sentinel' });
  await wait(() => subscribers.every((s) => received(s, 'dedupe').includes('sentinel')), 'the sentinel after the repeats');
  for (const s of subscribers) expect(received(s, 'dedupe')).toEqual(['once by messageId', 'once by update id', 'twice', 'twice', 'sentinel']);
  expect(await admin!.xlen(keys.history(APP_A.id, 'dedupe'))).toBe(5);
}, TEST_TIMEOUT_MS);

test('/readyz says ready; /metrics counts stored and dead-lettered updates; unknown paths are 404', async () => {
  const base = `http://127.0.0.1:${bridge!.port}`;
  // The bridge started before the gateways and warned that none was registered; its next
  // look at the registry (every HEARTBEAT_INTERVAL_MS) finds them.
  const readyz = async () => {
    const res = await fetch(`${base}/readyz`);
    return { status: res.status, body: (await res.json()) as unknown };
  };
  await wait(async () => !('warnings' in ((await readyz()).body as object)), 'the no-gateway warning to clear');
  expect(await readyz()).toEqual({ status: 200, body: { ready: true } });

  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();
  for (const name of ['switchyard_bridge_updates_stored_total', 'switchyard_bridge_dead_lettered_total', 'switchyard_bridge_ready']) {
    expect(text).toContain(`# TYPE ${name} `);
  }
  // Every valid update was acknowledged after storing, repeats included (stored once, acked each time).
  const metrics = await wait(async () => {
    const m = await bridge!.metrics();
    return m.get('switchyard_bridge_updates_stored_total') === validPublished ? m : null;
  }, `stored_total = ${validPublished}`);
  expect(metrics.get('switchyard_bridge_ready')).toBe(1);
  expect(metrics.get('switchyard_bridge_dead_lettered_total{reason="invalid_json"}')).toBe(2);
  expect(metrics.get('switchyard_bridge_dead_lettered_total{reason="invalid_update"}')).toBe(9);
  expect(metrics.get('switchyard_bridge_dead_lettered_total{reason="unknown_app"}')).toBe(1);
  expect(metrics.get('switchyard_bridge_dead_lettered_total{reason="too_large"}')).toBe(1);

  const missing = await fetch(`${base}/nope`);
  expect(missing.status).toBe(404);
  expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
}, TEST_TIMEOUT_MS);

test('a topic whose history key is broken fails alone: its updates are dead-lettered as store_failed, the other topics flow', async () => {
  const sub = subscribers[0]!;
  await subscribe(sub, ['healthy']);
  // Someone wrote a plain string where the topic's history stream belongs.
  await admin!.set(keys.history(APP_A.id, 'broken'), 'not a stream');
  for (let i = 0; i < 5; i++) {
    await publishValid({ app: APP_A.id, topic: 'healthy', data: { i } });
    await broker!.publishUpdate({ app: APP_A.id, topic: 'broken', data: { i } });
  }
  await wait(() => received(sub, 'healthy').length === 5 || null, 'the healthy topic');
  expect(received(sub, 'healthy')).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
  // Each broken update is retried (requeued) and dead-lettered after its fifth attempt.
  const dead: { body: string; reason: string }[] = [];
  await wait(
    async () => {
      dead.push(...(await broker!.drainDead()));
      return dead.length >= 5 || null;
    },
    'the broken topic dead-lettered',
    15_000,
  );
  // Requeues may reorder them; each must be there once.
  const deadIs = dead.map((d) => (JSON.parse(d.body) as { data: { i: number } }).data.i).sort((x, y) => x - y);
  expect(deadIs).toEqual([0, 1, 2, 3, 4]);
  for (const d of dead) expect(d.reason).toStartWith('store_failed: WRONGTYPE');
  const metrics = await bridge!.metrics();
  expect(metrics.get('switchyard_bridge_dead_lettered_total{reason="store_failed"}')).toBe(5);
}, TEST_TIMEOUT_MS);
