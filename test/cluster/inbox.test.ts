/** The Inbox contract on the Memory and the Redis implementation. */
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import { MemoryInbox } from '../../src/cluster/memory/memoryInbox.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { uniquePrefix, useRedisClient } from '../support/redis.ts';
import { inboxContract } from './contracts/inbox.contract.ts';

const prefix = uniquePrefix('inboxc');
const redis = useRedisClient(prefix);
let n = 0;

inboxContract('memory', () => {
  const cluster = new MemoryCluster();
  return { inbox: (id) => new MemoryInbox(cluster, id) };
});
inboxContract('redis', () => {
  const keys = new Keys(`${prefix}${++n}:`);
  const options = { batchSize: 100, blockTimeInMs: 100, maxLength: 10_000 };
  return { inbox: (id) => new RedisInbox(redis.client, keys, id, options, silentLogger) };
});
