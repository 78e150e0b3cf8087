/**
 * The Broker contract on the Memory implementation, on standalone Redis (the publish script
 * writes the inboxes) and on a private three-master Redis Cluster (per topic, the script
 * appends and the envelopes go to the inboxes apart).
 */
import { afterAll, beforeAll } from 'bun:test';
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import { MemoryInbox } from '../../src/cluster/memory/memoryInbox.ts';
import { connectRedis, type RedisClient } from '../../src/cluster/redis/connection.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { RedisBroker } from '../../src/cluster/redis/redisBroker.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { startRedisCluster, type RedisCluster } from '../support/redisCluster.ts';
import { uniquePrefix, useRedisClient } from '../support/redis.ts';
import { brokerContract, type BrokerFixture, type BrokerOptions } from './contracts/broker.contract.ts';

const prefix = uniquePrefix('broker');
const redis = useRedisClient(prefix);
let n = 0;

brokerContract(
  'memory',
  ({ historySize, dedupeWindowMs }) => {
    const cluster = new MemoryCluster({ historySize, dedupeWindowMs, historyMaxAgeMs: 60_000 });
    return { broker: cluster.broker, inbox: (id) => new MemoryInbox(cluster, id) };
  },
  { topicsCanFail: false },
);

/** A broker and inboxes under a fresh key prefix, on a standalone server or a Redis Cluster. */
function redisFixture(client: RedisClient, cluster: boolean, options: BrokerOptions): BrokerFixture {
  const keys = new Keys(`${prefix}${++n}:`);
  const inboxOptions = { batchSize: 100, blockTimeInMs: 100, maxLength: 10_000 };
  const inbox = (id: string) => new RedisInbox(client, keys, id, inboxOptions, silentLogger);
  const broker = new RedisBroker(client, keys, { ...options, historyMaxAgeMs: 60_000, cluster, inboxMaxLength: inboxOptions.maxLength }, inbox('publisher'));
  return {
    broker,
    inbox,
    breakTopic: async (app, topic) => void (await client.set(keys.history(app, topic), 'not a stream')),
  };
}

brokerContract('redis', (options) => redisFixture(redis.client, false, options), { topicsCanFail: true });

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

brokerContract('redis cluster', (options) => redisFixture(clusterClient!, true, options), { topicsCanFail: true });
