/**
 * Updates addressed to a user, through a real bridge process between real RabbitMQ and real
 * Redis, to sessions on two real gateway processes: delivered to every session of the user
 * (from null) and stored in the user inbox for an offline user; a redelivery with the same
 * ID stored once; invalid ones dead-lettered with their reason; another app's user of the
 * same name untouched.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Redis } from 'ioredis';
import { sign } from 'hono/jwt';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, tails, type BridgeProcess } from '../support/bridgeProcess.ts';
import { APP_A, APP_B } from '../support/gateway.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const AMQP_PREFIX = uniqueAmqpPrefix('bridge-direct');
const REDIS_PREFIX = uniquePrefix('bridge-direct');
const keys = new Keys(REDIS_PREFIX);
const TEST_TIMEOUT_MS = 20_000;
const CHAT_A = { ...APP_A, allowDirect: true };
const CHAT_B = { ...APP_B, allowDirect: true };

let broker: TestBroker | null = null;
let admin: Redis | null = null;
let bridge: BridgeProcess | null = null;
const gateways: GatewayProcess[] = [];
const clients: WsClient[] = [];

function wait<T>(check: () => T | Promise<T>, what: string): Promise<NonNullable<T>> {
  return waitFor(check, { what, timeoutMs: 5000, intervalMs: 20 }).catch((error: unknown) => {
    const logs = tails([...(bridge ? [{ name: 'bridge', output: bridge.output }] : []), ...gateways.map((g, i) => ({ name: `gateway ${i + 1}`, output: g.output }))]);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`);
  });
}

async function connect(g: GatewayProcess, app: { id: string; secret: string }, user: string): Promise<WsClient> {
  const token = await sign({ sub: user, exp: Math.floor(Date.now() / 1000) + 600 }, app.secret, 'HS256');
  const c = await WsClient.open(`ws://127.0.0.1:${g.port}/ws?app=${app.id}&token=${token}`);
  clients.push(c);
  return c;
}

const directs = (c: WsClient) => c.frames.filter((f) => f.type === 'direct');

beforeAll(async () => {
  await requireRabbit();
  await requireRedis();
  admin = testClient();
  const apps = JSON.stringify([CHAT_A, CHAT_B]);
  bridge = await spawnBridge({ REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX, APPS: apps, MAX_FRAME_BYTES: '2048', INSTANCE_ID: 'direct' });
  broker = await TestBroker.open(AMQP_PREFIX);
  gateways.push(
    ...(await Promise.all(['gw-d1', 'gw-d2'].map((id) => spawnGateway({ REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, INSTANCE_ID: id, APPS: apps, DRAIN_TIMEOUT_MS: '500' })))),
  );
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([bridge?.stop('SIGKILL'), ...gateways.map((g) => g.stop('SIGKILL'))]);
  await broker?.cleanup();
  if (admin) {
    await deleteKeysUnder(admin, REDIS_PREFIX);
    admin.disconnect();
  }
});

test('an update addressed to a user reaches every session of the user on every instance; another app is untouched', async () => {
  const on1 = await connect(gateways[0]!, CHAT_A, 'rita');
  const on2 = await connect(gateways[1]!, CHAT_A, 'rita');
  const otherApp = await connect(gateways[1]!, CHAT_B, 'rita');
  await broker!.publishRaw(JSON.stringify({ app: CHAT_A.id, user: 'rita', data: { order: 17 } }));
  await wait(() => directs(on1).length === 1 && directs(on2).length === 1, 'the direct update at both sessions');
  for (const c of [on1, on2]) expect(directs(c)).toEqual([{ type: 'direct', messageId: expect.stringMatching(/^\d+-\d+$/), from: null, data: { order: 17 } }]);
  await otherApp.request({ type: 'ping' });
  expect(directs(otherApp)).toEqual([]);
  expect(await admin!.xlen(keys.userInbox(CHAT_B.id, 'rita'))).toBe(0);
}, TEST_TIMEOUT_MS);

test('an offline user gets it on connect; a redelivery with the same id is stored once', async () => {
  await broker!.publishRaw(JSON.stringify({ app: CHAT_A.id, user: 'sam', data: 'first', id: 'dc-1' }));
  await broker!.publishRaw(JSON.stringify({ app: CHAT_A.id, user: 'sam', data: 'first', id: 'dc-1' }));
  await broker!.publishRaw(JSON.stringify({ app: CHAT_A.id, user: 'sam', data: 'second' }), { messageId: 'amqp-1' });
  await broker!.publishRaw(JSON.stringify({ app: CHAT_A.id, user: 'sam', data: 'second' }), { messageId: 'amqp-1' });
  await broker!.publishRaw(JSON.stringify({ app: CHAT_A.id, user: 'sam', data: 'third' }));
  await wait(async () => (await broker!.queueDepth(broker!.names.updatesQueue)) === 0 && (await admin!.xlen(keys.userInbox(CHAT_A.id, 'sam'))) === 3, 'three stored');
  const c = await connect(gateways[1]!, CHAT_A, 'sam');
  expect(c.frames[0]).toMatchObject({ type: 'welcome', inbox: { pending: 3 } });
  await wait(() => directs(c).length === 3, 'the pending messages');
  expect(directs(c).map((f) => f.data)).toEqual(['first', 'second', 'third']);
}, TEST_TIMEOUT_MS);

test('invalid updates addressed to users are dead-lettered with their reason', async () => {
  const bad: { body: string; reason: RegExp }[] = [
    { body: JSON.stringify({ app: CHAT_A.id, user: 'bad{user}', data: 1 }), reason: /^invalid_update: user: user id: / },
    { body: JSON.stringify({ app: CHAT_A.id, user: 'tom' }), reason: /^invalid_update: data: / },
    { body: JSON.stringify({ app: CHAT_A.id, user: 'tom', data: 1, id: '' }), reason: /^invalid_update: id: / },
    { body: JSON.stringify({ app: 'no-such-app', user: 'tom', data: 1 }), reason: /^unknown_app: no-such-app$/ },
    { body: JSON.stringify({ app: CHAT_A.id, user: 'tom', data: 'x'.repeat(3000) }), reason: /^too_large: / },
  ];
  for (const b of bad) await broker!.publishRaw(b.body);
  const dead: { body: string; reason: string }[] = [];
  await wait(async () => {
    dead.push(...(await broker!.drainDead()));
    return dead.length >= bad.length;
  }, `${bad.length} dead-lettered`);
  for (const b of bad) expect(dead.find((d) => d.body === b.body)?.reason).toMatch(b.reason);
  expect(await admin!.exists(keys.userInbox(CHAT_A.id, 'tom'))).toBe(0);
  expect(bridge!.proc.exitCode).toBeNull();
}, TEST_TIMEOUT_MS);
