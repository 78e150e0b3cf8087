/** The UserRegistry and UserInbox contracts on the Memory and the Redis implementation. */
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import { MemoryInbox } from '../../src/cluster/memory/memoryInbox.ts';
import { MemoryUsers } from '../../src/cluster/memory/memoryUsers.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import { RedisUserInbox } from '../../src/cluster/redis/redisUserInbox.ts';
import { RedisUsers } from '../../src/cluster/redis/redisUsers.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { uniquePrefix, useRedisClient } from '../support/redis.ts';
import { userInboxContract } from './contracts/userInbox.contract.ts';
import { usersContract } from './contracts/users.contract.ts';

const prefix = uniquePrefix('users');
const redis = useRedisClient(prefix);
let n = 0;

usersContract('memory', () => new MemoryUsers());
usersContract('redis', () => new RedisUsers(redis.client, new Keys(`${prefix}${++n}:`)));

userInboxContract('memory', ({ maxLength, ttlMs }) => {
  const cluster = new MemoryCluster({ userInboxMaxLength: maxLength, userInboxTtlMs: ttlMs });
  return { userInbox: cluster.userInbox, users: cluster.users, inbox: (id) => new MemoryInbox(cluster, id) };
});
userInboxContract('redis', ({ maxLength, ttlMs }) => {
  const keys = new Keys(`${prefix}${++n}:`);
  const inboxOptions = { batchSize: 100, blockTimeInMs: 100, maxLength: 10_000 };
  const sender = new RedisInbox(redis.client, keys, 'sender', inboxOptions, silentLogger);
  return {
    userInbox: new RedisUserInbox(redis.client, keys, { maxLength, ttlMs, dedupeWindowMs: 60_000, cluster: false, inboxMaxLength: 10_000 }, sender),
    users: new RedisUsers(redis.client, keys),
    inbox: (id) => new RedisInbox(redis.client, keys, id, inboxOptions, silentLogger),
  };
});
