/**
 * The Presence contract on the Memory implementation, on standalone Redis (the presence script
 * writes the inboxes) and on a private three-master Redis Cluster (the envelopes follow the
 * script); and where the Redis keys live: a topic's presence in the slot of its history and
 * routes, an instance's presence index in the slot of its inbox.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Redis } from 'ioredis';
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import { MemoryInbox } from '../../src/cluster/memory/memoryInbox.ts';
import { connectRedis, type RedisClient } from '../../src/cluster/redis/connection.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { RedisBroker } from '../../src/cluster/redis/redisBroker.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import { RedisPresence } from '../../src/cluster/redis/redisPresence.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { startRedisCluster, type RedisCluster } from '../support/redisCluster.ts';
import { keysUnder, uniquePrefix, useRedisClient } from '../support/redis.ts';
import { presenceContract, type PresenceFixture } from './contracts/presence.contract.ts';

const prefix = uniquePrefix('presence');
const redis = useRedisClient(prefix);
let n = 0;

presenceContract('memory', () => {
  const cluster = new MemoryCluster();
  return { presence: cluster.presence, broker: cluster.broker, inbox: (id) => new MemoryInbox(cluster, id) };
});

/** Presence, broker and inboxes under a fresh key prefix, on a standalone server or a Redis Cluster. */
function redisFixture(client: RedisClient, cluster: boolean, keys = new Keys(`${prefix}${++n}:`)): PresenceFixture {
  const inboxOptions = { batchSize: 100, blockTimeInMs: 100, maxLength: 10_000 };
  const inbox = (id: string) => new RedisInbox(client, keys, id, inboxOptions, silentLogger);
  const sender = inbox('presence-sender');
  return {
    presence: new RedisPresence(client, keys, { cluster, inboxMaxLength: inboxOptions.maxLength }, sender),
    broker: new RedisBroker(client, keys, { historySize: 100, historyMaxAgeMs: 60_000, dedupeWindowMs: 60_000, cluster, inboxMaxLength: inboxOptions.maxLength }, sender),
    inbox,
  };
}

presenceContract('redis', () => redisFixture(redis.client, false));

test('redis: nothing is left of a topic or an instance once everyone left', async () => {
  const keys = new Keys(`${prefix}${++n}:`);
  const { presence } = redisFixture(redis.client, false, keys);
  await presence.update('app', 'room:empty', 'i-1', new Map([['alice', 2]]));
  await presence.update('app', 'room:empty', 'i-2', new Map([['bob', 1]]));
  expect(await keysUnder(redis.client as Redis, keys.prefix)).toEqual(
    [keys.presenceOf('app', 'room:empty', 'i-1'), keys.presenceOf('app', 'room:empty', 'i-2'), keys.presenceUsers('app', 'room:empty'), keys.instancePresence('i-1'), keys.instancePresence('i-2')].sort(),
  );
  await presence.update('app', 'room:empty', 'i-1', new Map([['alice', 0]]));
  await presence.removeInstance('i-2');
  expect(await keysUnder(redis.client as Redis, keys.prefix)).toEqual([]);
});

let redisCluster: RedisCluster | null = null;
let clusterClient: RedisClient | null = null;
beforeAll(async () => {
  redisCluster = await startRedisCluster(3);
  clusterClient = connectRedis({ url: redisCluster.seedUrl, cluster: true });
  await waitFor(() => clusterClient!.status === 'ready', { timeoutMs: 10_000, what: 'the cluster client' });
}, 30_000);
afterAll(async () => {
  clusterClient?.disconnect();
  await redisCluster?.stop();
});

presenceContract('redis cluster', () => redisFixture(clusterClient!, true));

test('redis cluster: a topic\'s presence keys share its history\'s slot; an instance\'s presence index shares its inbox\'s', async () => {
  const c = redisCluster!;
  const keys = new Keys(`${prefix}${++n}:`);
  const { presence } = redisFixture(clusterClient!, true, keys);
  const slot = async (key: string) => Number(await c.admins[0]!.call('CLUSTER', 'KEYSLOT', key));
  // Topics on every master, each joined from two instances.
  const nodes = new Set<number>();
  for (let i = 0; i < 12; i++) {
    const topic = `room:slot-${i}`;
    nodes.add(await c.nodeOf(keys.history('app', topic)));
    const own = await slot(keys.history('app', topic));
    for (const key of [keys.presenceUsers('app', topic), keys.presenceOf('app', topic, 'i-a'), keys.presenceOf('app', topic, 'i-b'), keys.routes('app', topic)]) {
      expect(await slot(key)).toBe(own);
    }
    await presence.update('app', topic, 'i-a', new Map([['alice', 1]]));
    await presence.update('app', topic, 'i-b', new Map([['bob', 2]]));
    expect((await presence.members('app', topic, 10)).count).toBe(2);
  }
  expect(nodes.size).toBe(3);
  for (const id of ['i-a', 'i-b']) expect(await slot(keys.instancePresence(id))).toBe(await slot(keys.inbox(id)));
  expect(await presence.removeInstance('i-a')).toBe(12);
  expect(await presence.removeInstance('i-b')).toBe(12);
  expect(await c.keysUnder(keys.prefix)).toEqual([]);
}, 20_000);
