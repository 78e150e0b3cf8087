/**
 * Per-topic order end to end with two real bridge processes on one updates queue (single
 * active consumer: one consumes, the other stands by), two real gateway processes, real
 * RabbitMQ and real Redis. Thousands of updates on several topics reach every subscriber in
 * publish order with no gap and no duplicate; then the active bridge is SIGKILLed mid-stream
 * and the standby takes over: the updates the dead one held are redelivered to the standby,
 * those already stored are stored once (dedupe by update id), and every subscriber still
 * sees each topic whole, in order, once. Finally a fresh standby joins and the active bridge
 * is stopped gracefully (SIGTERM) mid-stream: it exits 0 and hands over the same way.
 *
 * The file owns an AMQP prefix and a Redis key prefix; afterAll kills every process it
 * started and deletes the queues, exchanges and keys.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, tails, type BridgeProcess } from '../support/bridgeProcess.ts';
import { APP_A } from '../support/gateway.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const AMQP_PREFIX = uniqueAmqpPrefix('bridge-order');
const REDIS_PREFIX = uniquePrefix('bridge-order');
const keys = new Keys(REDIS_PREFIX);
const TOPICS = ['orders', 'prices.eu', 'prices.us', 'stock:42'];
/** Updates per topic in each phase: 4 topics x 600 = 2400 updates per phase. */
const PER_TOPIC = 600;
const ENV = {
  APPS: JSON.stringify([APP_A]),
  REDIS_URL,
  REDIS_KEY_PREFIX: REDIS_PREFIX,
  // History must cover any gap the hub fills while updates race in.
  HISTORY_SIZE: '20000',
};
/** Each test normally takes a few seconds; the bound leaves room for a slow machine. */
const TEST_TIMEOUT_MS = 25_000;

let broker: TestBroker | null = null;
const bridges: { name: string; process: BridgeProcess }[] = [];
const gateways: GatewayProcess[] = [];
/** Subscribed to every topic: one on each gateway, and a second one on the second gateway. */
const subscribers: WsClient[] = [];

function logs(): string {
  return tails([...bridges.map((b) => ({ name: b.name, output: b.process.output })), ...gateways.map((g, i) => ({ name: `gateway ${i + 1}`, output: g.output }))]);
}

function wait<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  return waitFor(check, { what, timeoutMs, intervalMs: 20 }).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs()}`);
  });
}

/** Publishes n = from..to-1 on every topic, interleaved (n=from on each topic, then from+1, …), 100 confirms in flight. */
async function publishRange(from: number, to: number): Promise<void> {
  const all: { topic: string; n: number }[] = [];
  for (let n = from; n < to; n++) for (const topic of TOPICS) all.push({ topic, n });
  for (let i = 0; i < all.length; i += 100) {
    await Promise.all(all.slice(i, i + 100).map(({ topic, n }) => broker!.publishUpdate({ app: APP_A.id, topic, data: { n }, id: `${topic}-${n}` })));
  }
}

/** The `n` of every message a client received on a topic, in arrival order. */
function sequence(client: WsClient, topic: string): number[] {
  return client.messages(topic).map((f) => (f.data as { n: number }).n);
}

/** Problems with a received sequence that should be exactly 0..count-1 (empty when it is). */
function problems(got: number[], count: number): string[] {
  const out: string[] = [];
  const seen = new Set<number>();
  for (const [i, n] of got.entries()) {
    if (seen.has(n)) out.push(`#${i}: ${n} again`);
    else if (i > 0 && n < got[i - 1]!) out.push(`#${i}: ${n} after ${got[i - 1]}`);
    seen.add(n);
  }
  const missing = Array.from({ length: count }, (_, n) => n).filter((n) => !seen.has(n));
  if (missing.length > 0) out.push(`missing ${missing.length}: ${missing.slice(0, 10).join(', ')}`);
  return out.slice(0, 10);
}

function expectEveryTopicWhole(count: number): void {
  for (const [i, s] of subscribers.entries()) {
    for (const topic of TOPICS) {
      expect({ subscriber: i, topic, problems: problems(sequence(s, topic), count) }).toEqual({ subscriber: i, topic, problems: [] });
      expect(sequence(s, topic)).toEqual(Array.from({ length: count }, (_, n) => n));
    }
  }
}

async function stored(bridge: BridgeProcess): Promise<number> {
  return (await bridge.metrics()).get('switchyard_bridge_updates_stored_total') ?? 0;
}

beforeAll(async () => {
  await requireRabbit();
  await requireRedis();
  // One after the other: the first declares the queue and becomes the active consumer.
  for (const name of ['bridge-1', 'bridge-2']) {
    bridges.push({ name, process: await spawnBridge({ ...ENV, AMQP_URL, AMQP_PREFIX, INSTANCE_ID: name }) });
  }
  broker = await TestBroker.open(AMQP_PREFIX);
  gateways.push(...(await Promise.all(['order-gw-1', 'order-gw-2'].map((id) => spawnGateway({ ...ENV, INSTANCE_ID: id, DRAIN_TIMEOUT_MS: '500' })))));
  for (const g of [gateways[0]!, gateways[1]!, gateways[1]!]) {
    const s = await WsClient.open(`ws://127.0.0.1:${g.port}/ws?app=${APP_A.id}`);
    expect((await s.request({ type: 'subscribe', topics: TOPICS })).type).toBe('ack');
    subscribers.push(s);
  }
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  for (const s of subscribers) s.close();
  await Promise.all([...bridges.map((b) => b.process.stop('SIGKILL')), ...gateways.map((g) => g.stop('SIGKILL'))]);
  await broker?.cleanup();
  const admin = testClient();
  await deleteKeysUnder(admin, REDIS_PREFIX);
  admin.disconnect();
});

test('thousands of updates on several topics arrive in publish order, once; one bridge consumes, the other stands by', async () => {
  await publishRange(0, PER_TOPIC);
  await wait(() => subscribers.every((s) => TOPICS.every((t) => sequence(s, t).includes(PER_TOPIC - 1))), 'the last update of every topic at every subscriber', 15_000);
  expectEveryTopicWhole(PER_TOPIC);

  const counts = await Promise.all(bridges.map((b) => stored(b.process)));
  // Single active consumer: all of it went through one bridge; the other stood by, ready.
  expect([...counts].sort((a, b) => a - b)).toEqual([0, PER_TOPIC * TOPICS.length]);
  for (const b of bridges) expect((await b.process.readiness()).status).toBe(200);
}, TEST_TIMEOUT_MS);

test('SIGKILL of the active bridge mid-stream: the standby takes over; nothing lost, repeated or reordered', async () => {
  const counts = await Promise.all(bridges.map((b) => stored(b.process)));
  const active = bridges[counts[0]! > 0 ? 0 : 1]!;
  const standby = bridges[counts[0]! > 0 ? 1 : 0]!;
  const storedByActive = Math.max(...counts);
  const END = 2 * PER_TOPIC;
  const total = () => subscribers[0]!.frames.filter((f) => f.type === 'message').length;
  const beforeKill = total();

  // Published in the background; the kill comes while the active bridge is busy with it.
  const producer = publishRange(PER_TOPIC, END);
  try {
    await wait(async () => (await stored(active.process)) >= storedByActive + 400, 'the active bridge well into the second batch', 10_000);
    expect(await active.process.stop('SIGKILL')).not.toBe(0);
    const atKill = total() - beforeKill;
    expect(atKill).toBeLessThan(PER_TOPIC * TOPICS.length);

    await producer;
    // Published after the kill, so behind everything the dead bridge held: once these are
    // in, every redelivery was handled before them (per-topic order), repeats included.
    const LAST = END + 50;
    await publishRange(END, LAST);
    await wait(() => subscribers.every((s) => TOPICS.every((t) => sequence(s, t).includes(LAST - 1))), 'the last update of every topic at every subscriber', 15_000);
    expectEveryTopicWhole(LAST);
    // Stored once each: a redelivery the dedupe missed would be a second history entry.
    const admin = testClient();
    try {
      for (const topic of TOPICS) expect({ topic, entries: await admin.xlen(keys.history(APP_A.id, topic)) }).toEqual({ topic, entries: LAST });
    } finally {
      admin.disconnect();
    }
    expect(await stored(standby.process)).toBeGreaterThan(0);
    await wait(async () => (await broker!.queueDepth(broker!.names.updatesQueue)) === 0, 'the updates queue drained');
    expect(await broker!.drainDead()).toEqual([]);
    expect((await standby.process.readiness()).status).toBe(200);
  } finally {
    await producer.catch(() => {});
  }
}, TEST_TIMEOUT_MS);

test('SIGTERM of the active bridge mid-stream: it exits 0, a fresh standby takes over; nothing lost, repeated or reordered', async () => {
  const survivor = bridges.find((b) => b.process.proc.exitCode === null && b.process.proc.signalCode === null)!;
  const fresh = { name: 'bridge-3', process: await spawnBridge({ ...ENV, AMQP_URL, AMQP_PREFIX, INSTANCE_ID: 'bridge-3' }) };
  bridges.push(fresh);
  const START = 2 * PER_TOPIC + 50;
  const END = START + PER_TOPIC;
  const storedBefore = await stored(survivor.process);

  const producer = publishRange(START, END);
  try {
    await wait(async () => (await stored(survivor.process)) >= storedBefore + 400, 'the active bridge well into the third batch', 10_000);
    expect(await survivor.process.stop('SIGTERM')).toBe(0);
    await producer;
    const LAST = END + 50;
    await publishRange(END, LAST);
    await wait(() => subscribers.every((s) => TOPICS.every((t) => sequence(s, t).includes(LAST - 1))), 'the last update of every topic at every subscriber', 15_000);
    expectEveryTopicWhole(LAST);
    expect(await stored(fresh.process)).toBeGreaterThan(0);
    const admin = testClient();
    try {
      for (const topic of TOPICS) expect({ topic, entries: await admin.xlen(keys.history(APP_A.id, topic)) }).toEqual({ topic, entries: LAST });
    } finally {
      admin.disconnect();
    }
    await wait(async () => (await broker!.queueDepth(broker!.names.updatesQueue)) === 0, 'the updates queue drained');
    expect(await broker!.drainDead()).toEqual([]);
    expect(survivor.process.output.some((l) => l.includes('"bridge stopped"'))).toBe(true);
  } finally {
    await producer.catch(() => {});
  }
}, TEST_TIMEOUT_MS);
