/**
 * The bridge under faults, as real processes: a bridge and a gateway with a WebSocket
 * subscriber, real RabbitMQ and real Redis.
 *
 * - Redis goes away (a private redis-server killed and restarted on the same port, once
 *   empty, once mid-stream with its data on disk): while it is down the bridge is not ready
 *   and acknowledges nothing, so nothing is lost; once it is back every update reaches the
 *   subscriber once and in order.
 * - The RabbitMQ connection is lost (a loopback TCP proxy between bridge and broker cuts
 *   every connection mid-stream and refuses new ones for a while): the bridge is not ready,
 *   reconnects with backoff, redeclares and resumes; updates in flight at the cut are
 *   redelivered and stored once (dedupe by update id), so every update arrives exactly once,
 *   in order.
 *
 * - The connection is lost while malformed job replies wait to be dead-lettered: the bridge
 *   must survive it (reconnect and dead-letter them all), not exit.
 *
 * Producers always publish to the real broker, never through the proxy. The file owns one
 * AMQP prefix and one Redis key prefix; afterAll kills every process and server it started
 * and deletes the queues, exchanges and keys.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import type { Redis } from 'ioredis';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, tails, type BridgeProcess } from '../support/bridgeProcess.ts';
import { APP_A } from '../support/gateway.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, startRedisServer, testClient, uniquePrefix, type RedisServer } from '../support/redis.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.ts';
import { WsClient } from '../support/wsClient.ts';

const AMQP_PREFIX = uniqueAmqpPrefix('bridge-faults');
const REDIS_PREFIX = uniquePrefix('bridge-faults');
const keys = new Keys(REDIS_PREFIX);
const APPS = JSON.stringify([APP_A]);
/** Bounds one test; each normally takes a few seconds (most of it reconnect backoff). */
const TEST_TIMEOUT_MS = 25_000;

/** Everything started here, stopped in afterAll whatever happened. */
const bridges: { name: string; process: BridgeProcess }[] = [];
const gateways: { name: string; process: GatewayProcess }[] = [];
const brokers: TestBroker[] = [];
const clients: WsClient[] = [];
const admins: Redis[] = [];
/** Every private redis-server started (restarts included) and their directories. */
const redisServers: RedisServer[] = [];
const redisDirs: string[] = [];
const proxies: TcpProxy[] = [];

function logs(): string {
  return tails([...bridges, ...gateways].map((p) => ({ name: p.name, output: p.process.output })));
}

function wait<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  return waitFor(check, { what, timeoutMs, intervalMs: 20 }).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs()}`);
  });
}

async function startBridge(name: string, env: Record<string, string>): Promise<BridgeProcess> {
  const process = await spawnBridge({ APPS, LOG_LEVEL: 'debug', INSTANCE_ID: name, ...env });
  bridges.push({ name, process });
  return process;
}

async function startGateway(name: string, env: Record<string, string>): Promise<GatewayProcess> {
  const process = await spawnGateway({ APPS, INSTANCE_ID: name, DRAIN_TIMEOUT_MS: '500', HEARTBEAT_INTERVAL_MS: '200', INSTANCE_TTL_MS: '5000', ...env });
  gateways.push({ name, process });
  return process;
}

async function subscriber(gateway: GatewayProcess, topic: string): Promise<WsClient> {
  const client = await WsClient.open(`ws://127.0.0.1:${gateway.port}/ws?app=${APP_A.id}`);
  clients.push(client);
  expect((await client.request({ type: 'subscribe', topics: [topic] })).type).toBe('ack');
  return client;
}

/** A private redis-server in a fresh directory; `args` are added to startRedisServer's. */
async function startPrivateRedis(args: string[] = []): Promise<{ server: RedisServer; restart(): Promise<RedisServer> }> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-test-bridge-faults-'));
  redisDirs.push(dir);
  const server = await startRedisServer({ dir, args });
  redisServers.push(server);
  return {
    server,
    // Same port, same directory, same arguments.
    restart: async () => {
      const again = await startRedisServer({ port: server.port, dir, args });
      redisServers.push(again);
      return again;
    },
  };
}

/** A proxy in front of the real broker, and the AMQP URL that goes through it. */
async function brokerProxy(): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(AMQP_URL).port || 5672) });
  proxies.push(proxy);
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}

async function openBroker(prefix: string): Promise<TestBroker> {
  const broker = await TestBroker.open(prefix);
  brokers.push(broker);
  return broker;
}

/** The `n` of every message a client received on a topic, in arrival order. */
function sequence(client: WsClient, topic: string): number[] {
  return client.messages(topic).map((f) => (f.data as { n: number }).n);
}

/** Checks that `got` is exactly 0..count-1 in order; describes the first problems otherwise. */
function expectExactlyOnceInOrder(got: number[], count: number): void {
  const problems: string[] = [];
  const seen = new Set<number>();
  for (const [i, n] of got.entries()) {
    if (seen.has(n)) problems.push(`#${i}: ${n} again`);
    else if (i > 0 && n < got[i - 1]!) problems.push(`#${i}: ${n} after ${got[i - 1]}`);
    seen.add(n);
  }
  const missing = Array.from({ length: count }, (_, n) => n).filter((n) => !seen.has(n));
  if (missing.length > 0) problems.push(`missing ${missing.length}: ${missing.slice(0, 10).join(', ')}`);
  expect(problems.slice(0, 10)).toEqual([]);
  expect(got).toEqual(Array.from({ length: count }, (_, n) => n));
}

beforeAll(async () => {
  await requireRabbit();
  await requireRedis();
});

afterAll(async () => {
  for (const c of clients) c.close();
  // SIGKILL: a graceful stop could wait on a service a failed test left down.
  await Promise.all([...bridges, ...gateways].map((p) => p.process.stop('SIGKILL')));
  for (const p of proxies) await p.close();
  for (const b of brokers) await b.cleanup();
  for (const r of redisServers) await r.kill();
  for (const d of redisDirs) await rm(d, { recursive: true, force: true });
  const shared = testClient();
  await deleteKeysUnder(shared, REDIS_PREFIX);
  shared.disconnect();
  for (const a of admins) a.disconnect();
});

test('Redis down: nothing is acknowledged or lost; after a restart every update arrives once, in order', async () => {
  const prefix = `${AMQP_PREFIX}.redis`;
  const redis = await startPrivateRedis();
  const url = redis.server.url;
  const PREFETCH = 4;
  const bridge = await startBridge('redis-bridge', { REDIS_URL: url, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX: prefix, BRIDGE_PREFETCH: String(PREFETCH) });
  const gateway = await startGateway('redis-gw', { REDIS_URL: url, REDIS_KEY_PREFIX: REDIS_PREFIX });
  const client = await subscriber(gateway, 'ticks');
  const broker = await openBroker(prefix);
  const publish = (n: number) => broker.publishUpdate({ app: APP_A.id, topic: 'ticks', data: { n }, id: `tick-${n}` });
  const stored = async () => (await bridge.metrics()).get('switchyard_bridge_updates_stored_total');

  const BEFORE = 5;
  const DURING = 12;
  const AFTER = 5;
  for (let n = 0; n < BEFORE; n++) await publish(n);
  await wait(() => client.messages('ticks').length === BEFORE, 'the updates published before the fault');
  await wait(async () => (await stored()) === BEFORE, `stored_total = ${BEFORE}`);

  await redis.server.kill();
  await wait(async () => {
    const r = await bridge.readiness();
    return r.status === 503 && r.reasons.includes('redis unreachable');
  }, 'bridge /readyz 503 (redis unreachable)');

  for (let n = BEFORE; n < BEFORE + DURING; n++) await publish(n);
  // The bridge holds PREFETCH updates it cannot store and acknowledges none of them: an ack
  // would free a slot and it would take more. The rest wait in the queue (ready messages;
  // the held ones are unacknowledged and not counted).
  await wait(async () => (await broker.queueDepth(broker.names.updatesQueue)) === DURING - PREFETCH, `${DURING - PREFETCH} updates waiting in the queue`);
  expect(await stored()).toBe(BEFORE);
  expect((await bridge.readiness()).status).toBe(503);
  expect(client.messages('ticks')).toHaveLength(BEFORE);
  expect(await broker.drainDead()).toEqual([]);
  expect(bridge.proc.exitCode).toBeNull();

  // Same port, same (empty) directory: a fresh server without any of the earlier keys.
  const restarted = await redis.restart();
  await wait(async () => (await bridge.readiness()).status === 200, 'bridge /readyz 200 after the restart', 10_000);
  for (let n = BEFORE + DURING; n < BEFORE + DURING + AFTER; n++) await publish(n);

  const total = BEFORE + DURING + AFTER;
  await wait(() => client.messages('ticks').length >= total, `all ${total} updates at the subscriber`, 10_000);
  await wait(async () => (await broker.queueDepth(broker.names.updatesQueue)) === 0 && (await stored()) === total, 'the queue drained and everything stored');
  // Anything extra would come before the last update (per-topic order); it is the last one.
  expectExactlyOnceInOrder(sequence(client, 'ticks'), total);
  expect(await broker.drainDead()).toEqual([]);
  // The restarted Redis holds what was stored after the restart, each once.
  const admin = testClient(restarted.url);
  admins.push(admin);
  expect(await admin.xlen(keys.history(APP_A.id, 'ticks'))).toBe(DURING + AFTER);
  // The session lived through the outage: one welcome, still open.
  expect(client.frames.filter((f) => f.type === 'welcome')).toHaveLength(1);
  expect(client.ws.readyState).toBe(WebSocket.OPEN);
}, TEST_TIMEOUT_MS);

test('Redis crashes mid-stream and restarts with its data: held updates are stored after the restart, each once, in order', async () => {
  const prefix = `${AMQP_PREFIX}.redis-aof`;
  // Every write is on disk before Redis answers it: what the bridge saw acknowledged survives
  // the crash, and so do its dedupe keys.
  const redis = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  const url = redis.server.url;
  const PREFETCH = 16;
  const bridge = await startBridge('aof-bridge', { REDIS_URL: url, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX: prefix, BRIDGE_PREFETCH: String(PREFETCH) });
  const gateway = await startGateway('aof-gw', { REDIS_URL: url, REDIS_KEY_PREFIX: REDIS_PREFIX });
  const client = await subscriber(gateway, 'stream');
  const broker = await openBroker(prefix);
  const stored = async () => (await bridge.metrics()).get('switchyard_bridge_updates_stored_total') ?? 0;
  const publishRange = async (from: number, to: number): Promise<void> => {
    for (let base = from; base < to; base += 25) {
      const batch: Promise<void>[] = [];
      for (let n = base; n < Math.min(base + 25, to); n++) batch.push(broker.publishUpdate({ app: APP_A.id, topic: 'stream', data: { n }, id: `stream-${n}` }));
      await Promise.all(batch);
    }
  };
  const BEFORE = 800;
  const AFTER = 50;
  const producer = publishRange(0, BEFORE);
  try {
    await wait(() => client.messages('stream').length >= 100, '100 updates before the crash', 10_000);
    await redis.server.kill();
    await wait(async () => {
      const r = await bridge.readiness();
      return r.status === 503 && r.reasons.includes('redis unreachable');
    }, 'bridge /readyz 503 (redis unreachable)');
    await producer;
    // Once the connection is gone no store can complete, so `stored` (acks) is final until
    // the restart. The bridge holds PREFETCH updates unacknowledged; the rest wait.
    const storedWhileDown = await stored();
    expect(storedWhileDown).toBeLessThan(BEFORE);
    await wait(
      async () => (await broker.queueDepth(broker.names.updatesQueue)) === BEFORE - storedWhileDown - PREFETCH,
      `${BEFORE} - ${storedWhileDown} stored - ${PREFETCH} held updates waiting in the queue`,
    );
    expect(await stored()).toBe(storedWhileDown);
    expect(bridge.proc.exitCode).toBeNull();

    await redis.restart();
    await wait(async () => (await bridge.readiness()).status === 200, 'bridge /readyz 200 after the restart', 10_000);
    await publishRange(BEFORE, BEFORE + AFTER);
    const total = BEFORE + AFTER;
    await wait(() => sequence(client, 'stream').includes(total - 1), `update ${total - 1} (the last) at the subscriber`, 10_000);
    expectExactlyOnceInOrder(sequence(client, 'stream'), total);
    const admin = testClient(url);
    admins.push(admin);
    expect(await admin.xlen(keys.history(APP_A.id, 'stream'))).toBe(total);
    await wait(async () => (await broker.queueDepth(broker.names.updatesQueue)) === 0, 'the updates queue drained');
    expect(await broker.drainDead()).toEqual([]);
    expect(client.frames.filter((f) => f.type === 'welcome')).toHaveLength(1);
  } finally {
    await producer.catch(() => {});
  }
}, TEST_TIMEOUT_MS);

test('RabbitMQ connection lost mid-stream: not ready, reconnects with backoff, resumes; every update exactly once, in order', async () => {
  const prefix = `${AMQP_PREFIX}.amqp`;
  const { proxy, url: viaProxy } = await brokerProxy();
  const bridge = await startBridge('amqp-bridge', {
    REDIS_URL,
    REDIS_KEY_PREFIX: REDIS_PREFIX,
    AMQP_URL: viaProxy,
    AMQP_PREFIX: prefix,
    // Many updates in flight at the cut: their acks are lost and they come back.
    BRIDGE_PREFETCH: '64',
    // History keeps every update of the test, so that its length counts what was stored.
    HISTORY_SIZE: '5000',
  });
  const gateway = await startGateway('amqp-gw', { REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX });
  const client = await subscriber(gateway, 'flow');
  const broker = await openBroker(prefix);
  const stored = async () => (await bridge.metrics()).get('switchyard_bridge_updates_stored_total') ?? 0;
  // One connection, the bridge's, goes through the proxy.
  expect(proxy.open).toBe(1);

  /** Publishes updates `from`..`to - 1` in order, 50 confirms in flight at a time. */
  const publishRange = async (from: number, to: number): Promise<void> => {
    for (let base = from; base < to; base += 50) {
      const batch: Promise<void>[] = [];
      for (let n = base; n < Math.min(base + 50, to); n++) batch.push(broker.publishUpdate({ app: APP_A.id, topic: 'flow', data: { n }, id: `flow-${n}` }));
      await Promise.all(batch);
    }
  };
  const BEFORE = 1000;
  const DURING = 200;
  const AFTER = 200;
  const TOTAL = BEFORE + DURING + AFTER;
  const CUT_AT = 300;
  // Published in the background while the bridge consumes; the cut comes in the middle.
  const producer = publishRange(0, BEFORE);

  try {
    await wait(() => client.messages('flow').length >= CUT_AT, `${CUT_AT} updates before the cut`, 10_000);
    const connectFailuresBefore = bridge.output.filter((l) => l.includes('amqp connect failed')).length;
    proxy.refuse(true);
    proxy.cutAll();
    await wait(async () => {
      const r = await bridge.readiness();
      return r.status === 503 && r.reasons.includes('rabbitmq unreachable');
    }, 'bridge /readyz 503 (rabbitmq unreachable)');
    await producer;
    await publishRange(BEFORE, BEFORE + DURING);
    // It keeps trying (and failing) while the proxy refuses: at least two attempts.
    await wait(() => bridge.output.filter((l) => l.includes('amqp connect failed')).length >= connectFailuresBefore + 2, 'two failed reconnect attempts');
    expect(bridge.proc.exitCode).toBeNull();
    expect(client.messages('flow').length).toBeLessThan(BEFORE);

    proxy.refuse(false);
    await wait(async () => (await bridge.readiness()).status === 200, 'bridge /readyz 200 after the reconnect', 10_000);
    expect(bridge.output.some((l) => l.includes('"amqp connected"') && l.includes('"connects":2'))).toBe(true);
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
    await publishRange(BEFORE + DURING, TOTAL);

    // The last update was published after everything else was back in the queue: once it
    // is here, every redelivery was handled before it (per-topic order).
    await wait(() => sequence(client, 'flow').includes(TOTAL - 1), `update ${TOTAL - 1} (the last) at the subscriber`, 15_000);
    expectExactlyOnceInOrder(sequence(client, 'flow'), TOTAL);
    // Stored once each, although the updates in flight at the cut were delivered twice.
    const admin = testClient();
    admins.push(admin);
    expect(await admin.xlen(keys.history(APP_A.id, 'flow'))).toBe(TOTAL);
    // Acknowledged once per delivery: at least once each.
    expect(await stored()).toBeGreaterThanOrEqual(TOTAL);
    await wait(async () => (await broker.queueDepth(broker.names.updatesQueue)) === 0, 'the updates queue drained');
    expect(await broker.drainDead()).toEqual([]);
  } finally {
    proxy.refuse(false);
    await producer.catch(() => {});
  }
}, TEST_TIMEOUT_MS);

test('RabbitMQ connection lost while malformed job replies wait to be dead-lettered: the bridge survives and dead-letters them all', async () => {
  const prefix = `${AMQP_PREFIX}.replies`;
  const { proxy, url } = await brokerProxy();
  const bridge = await startBridge('replies-bridge', { REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL: url, AMQP_PREFIX: prefix });
  const broker = await openBroker(prefix);
  const workerConnection = await amqp.connect(AMQP_URL);
  try {
    // A worker replying: valid results (for an instance that is gone: dropped) between
    // malformed ones. The bridge handles replies one at a time, so many wait at the cut.
    const worker = await workerConnection.createConfirmChannel();
    const COUNT = 2000;
    const malformed = new Set<string>();
    for (let i = 0; i < COUNT; i++) {
      const body =
        i % 2 === 1
          ? `not json ${i}`
          : JSON.stringify({ v: 1, kind: 'result', jobId: `job-${i}`, replyTo: { instanceId: 'gone', sessionId: `session-${i}`, requestId: `r${i}` }, result: i });
      if (i % 2 === 1) malformed.add(body);
      worker.sendToQueue(broker.names.resultsQueue, Buffer.from(body), { persistent: true });
    }
    await worker.waitForConfirms();
    const deadLettered = () => bridge.output.filter((l) => l.includes('job reply dead-lettered')).length;
    await wait(() => deadLettered() >= 50, 'the bridge dead-lettering malformed replies');
    proxy.cutAll();

    const alive = (): boolean => {
      if (bridge.proc.exitCode !== null) throw new Error(`the bridge exited with code ${bridge.proc.exitCode} after the connection was cut\n${logs()}`);
      return true;
    };
    await wait(async () => alive() && bridge.output.some((l) => l.includes('"amqp connected"') && l.includes('"connects":2')), 'the bridge reconnected', 10_000);
    // Every malformed reply ends in the dead-letter queue (one may come twice: its ack was lost).
    const dead = new Set<string>();
    await wait(
      async () => {
        alive();
        for (const d of await broker.drainDead()) dead.add(d.body);
        return dead.size === malformed.size && (await broker.queueDepth(broker.names.resultsQueue)) === 0;
      },
      `all ${malformed.size} malformed replies dead-lettered and the results queue drained`,
      10_000,
    );
    expect([...dead].every((b) => malformed.has(b))).toBe(true);
    expect((await bridge.readiness()).status).toBe(200);
  } finally {
    await workerConnection.close().catch(() => {});
  }
}, TEST_TIMEOUT_MS);
