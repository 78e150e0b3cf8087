/**
 * The reaper against real Redis: a dead instance (stale heartbeat) and an orphaned inbox
 * (no registry entry) are cleaned up by one live instance, and what was waiting in the
 * dead inbox (pending and unread) is claimed.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { connectRedis, type RedisClient } from '../../src/cluster/redis/connection.ts';
import { INBOX_GROUP, Keys } from '../../src/cluster/redis/keys.ts';
import { RedisReaper } from '../../src/cluster/redis/redisReaper.ts';
import { RedisUsers } from '../../src/cluster/redis/redisUsers.ts';
import { RedisRegistry } from '../../src/cluster/redis/redisRegistry.ts';
import { RedisBroker } from '../../src/cluster/redis/redisBroker.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import { RedisPresence } from '../../src/cluster/redis/redisPresence.ts';
import type { Envelope } from '../../src/protocol/envelope.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { deleteKeysUnder, keysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';

const prefix = uniquePrefix('reaper');
const keys = new Keys(prefix);
const admin = testClient();
let client: RedisClient;
let registry: RedisRegistry;
let broker: RedisBroker;
let presence: RedisPresence;

beforeAll(async () => {
  await requireRedis();
  client = connectRedis({ url: REDIS_URL, cluster: false });
  registry = new RedisRegistry(client, keys, 1000, silentLogger);
  const inbox = new RedisInbox(client, keys, 'reaper-test', { batchSize: 100, blockTimeInMs: 100, maxLength: 1000 }, silentLogger);
  broker = new RedisBroker(client, keys, { historySize: 100, historyMaxAgeMs: 60_000, dedupeWindowMs: 60_000, cluster: false, inboxMaxLength: 1000 }, inbox);
  presence = new RedisPresence(client, keys, { cluster: false, inboxMaxLength: 1000 }, inbox);
});
afterAll(async () => {
  await deleteKeysUnder(admin, prefix);
  admin.disconnect();
  client.disconnect();
});

function reaper(selfId: string, claimed: Envelope[][]): RedisReaper {
  return new RedisReaper(client, keys, registry, broker, new RedisUsers(client, keys), presence, selfId, { intervalMs: 1000, orphanScanEvery: 1, maxClaimedEntries: 1000 }, async (e) => void claimed.push(e), silentLogger);
}

function envelope(i: number): string {
  return JSON.stringify({ kind: 'message', app: 'a', topic: 't', offset: `${i + 1}-0`, prev: `${i}-0`, data: String(i) });
}

/** Leaves behind what a crashed instance leaves: registry entry, routes, an inbox with pending and unread entries. */
async function crashedInstance(id: string, heartbeatAtMs: number): Promise<void> {
  await registry.heartbeat({ id, region: 'r', address: 'x:1', sessions: 3, startedAtMs: heartbeatAtMs, heartbeatAtMs });
  await broker.addRoute('a', 't1', id);
  await broker.addRoute('a', 't2', id);
  const inbox = keys.inbox(id);
  await admin.call('XGROUP', 'CREATE', inbox, INBOX_GROUP, '0', 'MKSTREAM');
  for (let i = 0; i < 4; i++) await admin.xadd(inbox, '*', 'e', envelope(i));
  // Two delivered but never acknowledged, two never read.
  await admin.call('XREADGROUP', 'GROUP', INBOX_GROUP, id, 'COUNT', 2, 'STREAMS', inbox, '>');
}

test('a dead instance is removed by a live one, and its inbox is claimed', async () => {
  await broker.addRoute('a', 't1', 'alive-1');
  await crashedInstance('dead-1', Date.now() - 60_000);
  const claimed: Envelope[][] = [];
  await reaper('alive-1', claimed).tick();

  expect(claimed.flat().map((e) => (e.kind === 'message' ? e.data : ''))).toEqual(['0', '1', '2', '3']);
  expect(await broker.routes('a', 't1')).toEqual(['alive-1']);
  expect(await broker.routes('a', 't2')).toEqual([]);
  expect(await admin.exists(keys.inbox('dead-1'), keys.instanceRoutes('dead-1'), keys.reapLock('dead-1'))).toBe(0);
  expect((await registry.live()).map((i) => i.id)).not.toContain('dead-1');
  expect(await registry.isRegistered('dead-1')).toBe(false);
});

test('only one reaper takes a dead instance', async () => {
  await crashedInstance('dead-2', Date.now() - 60_000);
  const a: Envelope[][] = [];
  const b: Envelope[][] = [];
  const [ra, rb] = [reaper('alive-a', a), reaper('alive-b', b)];
  const results = await Promise.all([ra.reap('dead-2', 'test'), rb.reap('dead-2', 'test')]);
  expect(results.filter(Boolean)).toHaveLength(1);
  expect(a.flat().length + b.flat().length).toBe(4);
});

test('a live instance is left alone', async () => {
  await crashedInstance('live-3', Date.now());
  await reaper('alive-1', []).tick();
  expect(await registry.isRegistered('live-3')).toBe(true);
  expect(await admin.exists(keys.inbox('live-3'))).toBe(1);
  await registry.remove('live-3');
  await broker.removeRoutes('live-3');
  await admin.del(keys.inbox('live-3'));
});

test('an orphaned inbox (no registry entry) is removed after two scans, not one', async () => {
  await crashedInstance('orphan-4', Date.now());
  await registry.remove('orphan-4');
  const r = reaper('alive-1', []);
  await r.tick();
  expect(await admin.exists(keys.inbox('orphan-4'))).toBe(1);
  await r.tick();
  expect(await admin.exists(keys.inbox('orphan-4'))).toBe(0);
  expect(await broker.routes('a', 't1')).not.toContain('orphan-4');
  const left = (await keysUnder(admin, prefix)).filter((k) => k.includes('orphan-4') || k.includes('dead-'));
  expect(left).toEqual([]);
});

test("a dead instance's sessions leave the user registry; other instances' stay", async () => {
  const users = new RedisUsers(client, keys);
  await crashedInstance('dead-5', Date.now() - 60_000);
  await users.add('a', 'bob', 'dead-5');
  await users.add('a', 'bob', 'dead-5');
  await users.add('a', 'bob', 'alive-1');
  await users.add('a', 'carol', 'dead-5');
  await reaper('alive-1', []).tick();
  expect(await users.count('a', ['bob', 'carol'])).toEqual(new Map([['bob', 1], ['carol', 0]]));
  expect(await admin.exists(keys.instanceUsers('dead-5'))).toBe(0);
  await users.remove('a', 'bob', 'alive-1');
});
