import { afterAll, beforeAll } from 'bun:test';
import { RedisHistory } from '../../src/cluster/redis/redisHistory.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { connectRedis, type RedisClient } from '../../src/cluster/redis/connection.ts';
import { historyContract } from './contracts/history.contract.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';

const prefix = uniquePrefix('history');
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

historyContract('redis', (size) => new RedisHistory(client, new Keys(`${prefix}${++n}:`), { size, maxAgeMs: 60_000, dedupeWindowMs: 60_000 }));
