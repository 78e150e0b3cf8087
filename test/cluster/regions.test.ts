/**
 * Two regions on one machine, as docs/deploy.md ("Several regions") lays them out: each
 * region is its own cluster (its own Redis server, gateways with REGION set, its own bridge),
 * and the data center's updates reach both through RabbitMQ. Here one broker stands in for two
 * federated ones: the data center publishes to one upstream exchange, bound to each region's
 * updates exchange (what a federation link or a shovel does between brokers).
 *
 * Shown: each region lists its own instances with their region; an update published once by
 * the data center reaches subscribers in both regions; a publish through one region's API
 * stays in that region; when one region's Redis is cut off, the other keeps serving.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import * as amqp from 'amqplib';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, type BridgeProcess } from '../support/bridgeProcess.ts';
import { APP_A, publishHttp } from '../support/gateway.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { requireRedis, startRedisServer, type RedisServer } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const UPSTREAM = `${uniqueAmqpPrefix('regions')}.dc`;

interface Region {
  name: string;
  redis: RedisServer;
  amqpPrefix: string;
  gateway: GatewayProcess;
  bridge: BridgeProcess;
  subscriber: WsClient;
}

const regions: Region[] = [];
let connection: amqp.ChannelModel;
let channel: amqp.ConfirmChannel;

async function startRegion(name: string): Promise<Region> {
  const redis = await startRedisServer();
  const amqpPrefix = uniqueAmqpPrefix(`region-${name}`);
  const env = { APPS: JSON.stringify([APP_A]), REDIS_URL: redis.url, AMQP_URL, AMQP_PREFIX: amqpPrefix, REGION: name, HEARTBEAT_INTERVAL_MS: '250' };
  const gateway = await spawnGateway({ ...env, INSTANCE_ID: `gw-${name}` });
  const bridge = await spawnBridge(env);
  const subscriber = await WsClient.open(`ws://127.0.0.1:${gateway.port}/ws?app=${APP_A.id}`);
  await subscriber.request({ type: 'subscribe', topics: ['prices'] });
  // The federation link: what the data center publishes upstream also reaches this region.
  await channel.bindExchange(`${amqpPrefix}.updates`, UPSTREAM, '#');
  return { name, redis, amqpPrefix, gateway, bridge, subscriber };
}

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
  connection = await amqp.connect(AMQP_URL);
  channel = await connection.createConfirmChannel();
  await channel.assertExchange(UPSTREAM, 'topic', { durable: false, autoDelete: false });
  // Each bridge declares its region's exchange; start them before binding.
  regions.push(await startRegion('ams'), await startRegion('sin'));
});

afterAll(async () => {
  for (const r of regions) {
    r.subscriber.close();
    await r.gateway.stop('SIGKILL');
    await r.bridge.stop('SIGKILL');
    await r.redis.kill();
    const broker = await TestBroker.open(r.amqpPrefix);
    await broker.cleanup();
  }
  await channel.deleteExchange(UPSTREAM).catch(() => {});
  await connection.close().catch(() => {});
});

test('each region lists its own instances, with their region', async () => {
  for (const r of regions) {
    const res = await fetch(`http://127.0.0.1:${r.gateway.port}/api/instances`, { headers: { authorization: `Bearer ${APP_A.secret}` } });
    const body = (await res.json()) as { instances: { id: string; region: string }[] };
    expect(body.instances.map((i) => [i.id, i.region])).toEqual([[`gw-${r.name}`, r.name]]);
  }
});

test('an update the data center publishes once reaches subscribers in every region', async () => {
  const update = { app: APP_A.id, topic: 'prices', data: { sku: 'A-1', price: 12.5 }, id: 'dc-1' };
  channel.publish(UPSTREAM, `${APP_A.id}.prices`, Buffer.from(JSON.stringify(update)), { persistent: true, messageId: update.id, contentType: 'application/json' });
  await channel.waitForConfirms();
  for (const r of regions) {
    const [message] = await r.subscriber.waitForMessages('prices', 1, 10_000);
    expect(message!.data).toEqual(update.data);
  }
});

test("a publish through one region's API stays in that region", async () => {
  const [ams, sin] = regions as [Region, Region];
  await publishHttp(`http://127.0.0.1:${ams.gateway.port}`, APP_A, 'prices', 'ams only');
  await ams.subscriber.waitFor((f) => f.type === 'message' && f.data === 'ams only');
  // A sentinel through sin's own API: once it arrived there, the ams publish would have too.
  await publishHttp(`http://127.0.0.1:${sin.gateway.port}`, APP_A, 'prices', 'sin sentinel');
  await sin.subscriber.waitFor((f) => f.type === 'message' && f.data === 'sin sentinel');
  expect(sin.subscriber.messages('prices').map((m) => m.data)).not.toContain('ams only');
});

test("a region whose Redis is cut off stops being ready; the other keeps serving", async () => {
  const [ams, sin] = regions as [Region, Region];
  await sin.redis.kill();
  await waitFor(async () => (await fetch(`http://127.0.0.1:${sin.gateway.port}/readyz`)).status === 503, {
    timeoutMs: 10_000,
    what: 'sin to report not ready',
  });
  const update = { app: APP_A.id, topic: 'prices', data: 'while sin is cut off', id: 'dc-2' };
  channel.publish(UPSTREAM, `${APP_A.id}.prices`, Buffer.from(JSON.stringify(update)), { persistent: true, messageId: update.id });
  await channel.waitForConfirms();
  await ams.subscriber.waitFor((f) => f.type === 'message' && f.data === 'while sin is cut off', 10_000);
  expect((await fetch(`http://127.0.0.1:${ams.gateway.port}/readyz`)).status).toBe(200);
  // sin's bridge says why it is not ready; the update waits, unacknowledged, in sin's queue.
  await waitFor(async () => (await sin.bridge.readiness()).reasons.includes('redis unreachable'), {
    timeoutMs: 10_000,
    what: "sin's bridge to report its Redis unreachable",
  });
});
