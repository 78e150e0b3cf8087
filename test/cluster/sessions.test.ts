import { afterAll, beforeAll } from 'bun:test';
import { MemorySessions } from '../../src/cluster/memory/memorySessions.ts';
import { connectRedis, type RedisClient } from '../../src/cluster/redis/connection.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { RedisSessions } from '../../src/cluster/redis/redisSessions.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { sessionsContract } from './contracts/sessions.contract.ts';

const prefix = uniquePrefix('sessions');
let client: RedisClient;
let n = 0;
beforeAll(async () => {
  await requireRedis();
  client = connectRedis({ url: REDIS_URL, cluster: false });
});
afterAll(async () => {
  const admin = testClient();
  await deleteKeysUnder(admin, prefix);
  admin.disconnect();
  client.disconnect();
});

sessionsContract('memory', () => new MemorySessions());
sessionsContract('redis', () => new RedisSessions(client, new Keys(`${prefix}${++n}:`), silentLogger));
