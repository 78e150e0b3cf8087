/**
 * Redis faults under two real gateway processes sharing a private redis-server: a dropped
 * connection (data kept) and a crash with a restart on the same port (data lost, no
 * persistence). Subscribers stay connected throughout; each fault must end with every
 * instance ready, registered, routed and reading its inbox, so that no instance stays
 * silently deaf.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { INBOX_GROUP, Keys } from '../../src/cluster/redis/keys.ts';
import { APP_A } from '../support/gateway.ts';
import { instanceIds, publishWhenReady, readiness, tryPublish, waitWithLogs } from '../support/gatewayProbe.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { startRedisServer, testClient, uniquePrefix, type RedisServer } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const prefix = uniquePrefix('faults');
const keys = new Keys(prefix);
const IDS = ['fault-1', 'fault-2'];
const TOPICS = ['news', 'prices'];
/** Bounds a test that waits on several conditions (5 s each at most); each normally takes under 1 s. */
const TEST_TIMEOUT_MS = 20_000;

let dir = '';
let redis: RedisServer | null = null;
let admin: Redis | null = null;
const gateways: GatewayProcess[] = [];
/** One subscriber per instance, subscribed to every topic in TOPICS; never reconnected. */
const subscribers: WsClient[] = [];

function gatewayEnv(id: string, url: string): Record<string, string> {
  return {
    REDIS_URL: url,
    REDIS_KEY_PREFIX: prefix,
    INSTANCE_ID: id,
    APPS: JSON.stringify([APP_A]),
    LOG_LEVEL: 'debug',
    // Short intervals keep each recovery step quick; the TTL is long enough that no instance
    // is taken for dead while Redis is merely reconnecting.
    HEARTBEAT_INTERVAL_MS: '200',
    INSTANCE_TTL_MS: '5000',
    INBOX_BLOCK_MS: '500',
    DRAIN_TIMEOUT_MS: '500',
  };
}

function wait<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  return waitWithLogs(gateways, check, { what, timeoutMs });
}

/** Waits until every subscriber got `data` on `topic`. */
async function expectEverywhere(topic: string, data: string, timeoutMs?: number): Promise<void> {
  await wait(() => subscribers.every((s) => s.messages(topic).some((f) => f.data === data)), `"${data}" on ${topic} at every subscriber`, timeoutMs);
}

/** No subscriber was closed or had to open a new session. */
function expectSubscribersUntouched(): void {
  for (const s of subscribers) {
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.frames.filter((f) => f.type === 'welcome')).toHaveLength(1);
  }
}

/** Everything an instance must have in Redis to receive publishes. */
async function instanceRestored(id: string): Promise<boolean> {
  const a = admin!;
  for (const topic of TOPICS) if (!(await a.sismember(keys.routes(APP_A.id, topic), id))) return false;
  const indexed = await a.smembers(keys.instanceRoutes(id));
  if (!TOPICS.every((t) => indexed.includes(`${APP_A.id}:${t}`))) return false;
  const groups = (await a.call('XINFO', 'GROUPS', keys.inbox(id)).catch(() => [])) as unknown[][];
  return groups.some((g) => g[1] === INBOX_GROUP);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-test-faults-'));
  redis = await startRedisServer({ dir });
  admin = testClient(redis.url);
  // The admin client lives through the crash below; its reconnect errors are expected.
  admin.on('error', () => {});
  const url = redis.url;
  gateways.push(...(await Promise.all(IDS.map((id) => spawnGateway(gatewayEnv(id, url))))));
  for (const g of gateways) {
    const s = await WsClient.open(`ws://127.0.0.1:${g.port}/ws?app=${APP_A.id}`);
    expect((await s.request({ type: 'subscribe', topics: TOPICS })).type).toBe('ack');
    subscribers.push(s);
  }
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  for (const s of subscribers) s.close();
  // SIGKILL: a graceful stop would wait on Redis if a test left it down.
  await Promise.all(gateways.map((g) => g.stop('SIGKILL')));
  admin?.disconnect();
  await redis?.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('subscribers on both instances receive what either instance publishes', async () => {
  await publishWhenReady(gateways[0]!.port, APP_A, 'news', 'first-from-1');
  await publishWhenReady(gateways[1]!.port, APP_A, 'news', 'first-from-2');
  await expectEverywhere('news', 'first-from-1');
  await expectEverywhere('news', 'first-from-2');
  for (const s of subscribers) expect(s.messages('news').map((f) => f.data)).toEqual(['first-from-1', 'first-from-2']);
  for (const g of gateways) expect(await instanceIds(g.port)).toEqual(IDS);
}, TEST_TIMEOUT_MS);

test('after CLIENT KILL every instance reconnects and delivery resumes, in order, with nothing lost', async () => {
  const killed = Number(await admin!.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes'));
  // At least the command connection and the inbox reader of each instance.
  expect(killed).toBeGreaterThanOrEqual(2 * gateways.length);
  // Published while the instances reconnect (a 503 published nothing and is asked again).
  // Each message must arrive before the next is sent: a later one cannot cover for a lost
  // envelope by having the hub fill the gap from history.
  const sent: string[] = [];
  for (let i = 0; i < 6; i++) {
    const data = `after-kill-${i}`;
    await publishWhenReady(gateways[i % 2]!.port, APP_A, 'prices', data);
    sent.push(data);
    await expectEverywhere('prices', data);
  }
  for (const s of subscribers) expect(s.messages('prices').map((f) => f.data)).toEqual(sent);
  for (const g of gateways) expect((await readiness(g.port)).status).toBe(200);
  // Redis kept its data: registry and routes were never lost.
  for (const g of gateways) expect(await instanceIds(g.port)).toEqual(IDS);
  for (const id of IDS) expect(await instanceRestored(id)).toBe(true);
  expectSubscribersUntouched();
}, TEST_TIMEOUT_MS);

test('Redis crashes and restarts empty: not ready while down, then re-registered, re-routed and delivering', async () => {
  const port = redis!.port;
  await redis!.kill();

  await wait(async () => {
    const all = await Promise.all(gateways.map((g) => readiness(g.port)));
    return all.every((r) => r.status === 503 && r.reasons.includes('redis backend unreachable'));
  }, '/readyz 503 on every instance while Redis is down');
  for (const g of gateways) expect((await tryPublish(g.port, APP_A, 'news', 'while-down')).status).toBe(503);

  // Same port, same (empty) directory: a fresh server without any of the earlier keys.
  redis = await startRedisServer({ port, dir });

  await wait(async () => {
    const all = await Promise.all(gateways.map((g) => readiness(g.port)));
    return all.every((r) => r.status === 200);
  }, '/readyz 200 on every instance after the restart');
  await wait(async () => {
    for (const g of gateways) if ((await instanceIds(g.port)).join() !== IDS.join()) return false;
    return true;
  }, 'GET /api/instances to list both instances again');
  for (const id of IDS) await wait(() => instanceRestored(id), `${id}: routes re-added and consumer group recreated`);

  // Published after the restart, through either instance, to sessions opened before it; one
  // at a time, so that no later message can cover for a lost one (see above).
  for (const [i, g] of gateways.entries()) {
    for (const topic of TOPICS) {
      await publishWhenReady(g.port, APP_A, topic, `after-restart-${i}-${topic}`);
      await expectEverywhere(topic, `after-restart-${i}-${topic}`);
    }
  }
  for (const s of subscribers) expect(s.messages('news').some((f) => f.data === 'while-down')).toBe(false);
  expectSubscribersUntouched();
}, TEST_TIMEOUT_MS);

test('an instance that comes back after another is already publishing again still gets what was published meanwhile', async () => {
  const [first, late] = [gateways[0]!, gateways[1]!];
  const port = redis!.port;
  await redis!.kill();
  await wait(async () => (await Promise.all(gateways.map((g) => readiness(g.port)))).every((r) => r.status === 503), '/readyz 503 on every instance');
  // Holds the second instance back (SIGSTOP) so that the first one is restored and
  // publishing before the second reconnects: otherwise this order is left to backoff timing.
  late.proc.kill('SIGSTOP');
  try {
    redis = await startRedisServer({ port, dir });
    await wait(async () => (await readiness(first.port)).status === 200 && (await instanceRestored(IDS[0]!)), `${IDS[0]} restored`);
    await publishWhenReady(first.port, APP_A, 'news', 'while-late-away');
    await wait(() => subscribers[0]!.messages('news').some((f) => f.data === 'while-late-away'), 'the message at the first instance');
  } finally {
    late.proc.kill('SIGCONT');
  }
  await wait(async () => (await readiness(late.port)).status === 200 && (await instanceRestored(IDS[1]!)), `${IDS[1]} restored`);
  await wait(async () => (await instanceIds(late.port)).join() === IDS.join(), 'both instances listed');
  // The message is in the topic's history; nothing else is published on the topic, so only
  // the late instance's own catch-up after restoring its routes can deliver it.
  await expectEverywhere('news', 'while-late-away', 5000);
  expectSubscribersUntouched();
}, TEST_TIMEOUT_MS);
