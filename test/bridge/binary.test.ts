/**
 * Binary updates (content type application/octet-stream, app and topic or user in headers;
 * docs/bridge.md) through a real bridge process between real RabbitMQ and real Redis, to
 * sessions on a real gateway process: a topic update arrives as a binary frame with the
 * body's bytes, in one offset order with JSON updates of the topic, and is stored once when
 * redelivered with the same AMQP messageId; a user update arrives as a binary direct frame
 * (and waits in the user inbox of an offline user); binary updates with missing or bad headers
 * are dead-lettered with their reason.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Redis } from 'ioredis';
import { sign } from 'hono/jwt';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { BINARY_UPDATE_TYPE, BinaryUpdateHeaders } from '../../src/protocol/update.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, tails, type BridgeProcess } from '../support/bridgeProcess.ts';
import { APP_A } from '../support/gateway.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const AMQP_PREFIX = uniqueAmqpPrefix('bridge-binary');
const REDIS_PREFIX = uniquePrefix('bridge-binary');
const keys = new Keys(REDIS_PREFIX);
const TEST_TIMEOUT_MS = 20_000;
const MAX_FRAME_BYTES = 2048;
const CHAT = { ...APP_A, allowDirect: true };

let broker: TestBroker | null = null;
let admin: Redis | null = null;
let bridge: BridgeProcess | null = null;
let gateway: GatewayProcess | null = null;
const clients: WsClient[] = [];

function wait<T>(check: () => T | Promise<T>, what: string): Promise<NonNullable<T>> {
  return waitFor(check, { what, timeoutMs: 5000, intervalMs: 20 }).catch((error: unknown) => {
    const logs = tails([...(bridge ? [{ name: 'bridge', output: bridge.output }] : []), ...(gateway ? [{ name: 'gateway', output: gateway.output }] : [])]);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`);
  });
}

async function open(user?: string): Promise<WsClient> {
  const token = user === undefined ? '' : `&token=${await sign({ sub: user, exp: Math.floor(Date.now() / 1000) + 600 }, CHAT.secret, 'HS256')}`;
  const c = await WsClient.open(`ws://127.0.0.1:${gateway!.port}/ws?app=${CHAT.id}${token}`);
  clients.push(c);
  return c;
}

/** Publishes a binary update: the body as it is, the rest in headers. */
function publishBinary(body: Uint8Array, headers: Record<string, string>, messageId?: string): Promise<void> {
  return broker!.publishRaw(Buffer.from(body), { contentType: BINARY_UPDATE_TYPE, headers, ...(messageId ? { messageId } : {}) });
}

const hex = (data: unknown) => Buffer.from(data as Uint8Array).toString('hex');
const EVERY_BYTE = Uint8Array.from({ length: 256 }, (_, i) => i);

beforeAll(async () => {
  await requireRabbit();
  await requireRedis();
  admin = testClient();
  const apps = JSON.stringify([CHAT]);
  bridge = await spawnBridge({ REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX, APPS: apps, MAX_FRAME_BYTES: String(MAX_FRAME_BYTES), INSTANCE_ID: 'binary' });
  broker = await TestBroker.open(AMQP_PREFIX);
  gateway = await spawnGateway({ REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, INSTANCE_ID: 'gw-bin', APPS: apps, DRAIN_TIMEOUT_MS: '500' });
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([bridge?.stop('SIGKILL'), gateway?.stop('SIGKILL')]);
  await broker?.cleanup();
  if (admin) {
    await deleteKeysUnder(admin, REDIS_PREFIX);
    admin.disconnect();
  }
});

test('an octet-stream update reaches subscribers as a binary frame, in one offset order with JSON updates', async () => {
  const s = await open();
  expect((await s.request({ type: 'subscribe', topics: ['sensor'] })).type).toBe('ack');
  const topicHeaders = { [BinaryUpdateHeaders.app]: CHAT.id, [BinaryUpdateHeaders.topic]: 'sensor' };
  await publishBinary(EVERY_BYTE, topicHeaders);
  await broker!.publishUpdate({ app: CHAT.id, topic: 'sensor', data: { json: true } });
  await publishBinary(new Uint8Array([0xca, 0xfe, 0x01]), topicHeaders);
  const got = await wait(() => (s.messages('sensor').length >= 3 ? s.messages('sensor') : null), 'three updates');
  expect(got.map((m) => (m.binary === true ? hex(m.data) : m.data))).toEqual([hex(EVERY_BYTE), { json: true }, 'cafe01']);
  const offsets = got.map((m) => String(m.offset));
  expect([...offsets].sort(compareOffsets)).toEqual(offsets);
  // Replayed from history as binary too (0-0 predates the topic's log, so `recovered` is
  // false, but every retained message comes back).
  const late = await open();
  const ack = await late.request({ type: 'subscribe', topics: ['sensor'], since: { sensor: '0-0' } });
  expect(ack.type).toBe('ack');
  expect(late.messages('sensor').map((m) => (m.binary === true ? hex(m.data) : m.data))).toEqual([hex(EVERY_BYTE), { json: true }, 'cafe01']);
}, TEST_TIMEOUT_MS);

test('a binary update redelivered with the same AMQP messageId is stored once', async () => {
  const s = await open();
  await s.request({ type: 'subscribe', topics: ['once'] });
  const headers = { [BinaryUpdateHeaders.app]: CHAT.id, [BinaryUpdateHeaders.topic]: 'once' };
  await publishBinary(new Uint8Array([1]), headers, 'bin-1');
  await publishBinary(new Uint8Array([1]), headers, 'bin-1');
  await publishBinary(new Uint8Array([2]), headers, 'bin-2');
  await wait(() => s.messages('once').length >= 2, 'two distinct updates');
  await wait(async () => (await broker!.queueDepth(broker!.names.updatesQueue)) === 0, 'the queue drained');
  expect(await admin!.xlen(keys.history(CHAT.id, 'once'))).toBe(2);
  expect(s.messages('once').map((m) => hex(m.data))).toEqual(['01', '02']);
}, TEST_TIMEOUT_MS);

test('an octet-stream update with x-switchyard-user is a direct message of bytes, live and from the user inbox', async () => {
  const online = await open('dana');
  await publishBinary(new Uint8Array([0xde, 0xad, 0xbe, 0xef]), { [BinaryUpdateHeaders.app]: CHAT.id, [BinaryUpdateHeaders.user]: 'dana' });
  const live = await wait(() => online.frames.find((f) => f.type === 'direct'), 'the direct message at dana');
  expect(live.binary).toBe(true);
  expect(live.from).toBeNull();
  expect(hex(live.data)).toBe('deadbeef');

  await publishBinary(new Uint8Array([0x00, 0xff]), { [BinaryUpdateHeaders.app]: CHAT.id, [BinaryUpdateHeaders.user]: 'erin' });
  await wait(async () => (await broker!.queueDepth(broker!.names.updatesQueue)) === 0, 'the queue drained');
  await wait(async () => (await admin!.xlen(keys.userInbox(CHAT.id, 'erin'))) === 1, "erin's user inbox holds it");
  const later = await open('erin');
  const replayed = await wait(() => later.frames.find((f) => f.type === 'direct'), 'the stored message at erin');
  expect(hex(replayed.data)).toBe('00ff');
}, TEST_TIMEOUT_MS);

test('binary updates with missing or bad headers are dead-lettered with their reason', async () => {
  const { app, topic, user } = BinaryUpdateHeaders;
  const bad: { headers: Record<string, string>; body?: Uint8Array; reason: RegExp }[] = [
    { headers: { [topic]: 'news' }, reason: /^invalid_update: x-switchyard-app header required$/ },
    { headers: { [app]: CHAT.id }, reason: /^invalid_update: one of the headers x-switchyard-topic and x-switchyard-user required$/ },
    { headers: { [app]: CHAT.id, [topic]: 'news', [user]: 'dana' }, reason: /^invalid_update: one of the headers/ },
    { headers: { [app]: CHAT.id, [topic]: 'has space' }, reason: /^invalid_update: x-switchyard-topic header: topic: / },
    { headers: { [app]: CHAT.id, [user]: 'a{b' }, reason: /^invalid_update: x-switchyard-user header: user id: / },
    { headers: { [app]: 'no-such-app', [topic]: 'news' }, reason: /^unknown_app: no-such-app$/ },
    { headers: { [app]: 'bad app', [topic]: 'news' }, reason: /^invalid_update: x-switchyard-app header: / },
    { headers: { [app]: CHAT.id, [topic]: 'news' }, body: new Uint8Array(MAX_FRAME_BYTES + 1), reason: new RegExp(`^too_large: over ${MAX_FRAME_BYTES} bytes$`) },
  ];
  for (const [i, b] of bad.entries()) await publishBinary(b.body ?? new Uint8Array([i]), b.headers, `bad-${i}`);
  const dead: { body: string; reason: string }[] = [];
  await wait(async () => {
    dead.push(...(await broker!.drainDead()));
    return dead.length >= bad.length;
  }, `${bad.length} messages in the dead-letter queue`);
  expect(dead).toHaveLength(bad.length);
  for (const [i, b] of bad.entries()) {
    const body = Buffer.from(b.body ?? new Uint8Array([i])).toString();
    const match = dead.find((d) => d.body === body);
    expect(match, `dead-lettered: update ${i}`).toBeDefined();
    expect(match!.reason).toMatch(b.reason);
  }
  expect(await admin!.exists(keys.history(CHAT.id, 'news'))).toBe(0);
  expect(bridge!.proc.exitCode).toBeNull();
}, TEST_TIMEOUT_MS);
