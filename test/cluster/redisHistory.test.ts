/** The History contract on real Redis. */
import { RedisHistory } from '../../src/cluster/redis/redisHistory.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { historyContract } from './contracts/history.contract.ts';
import { uniquePrefix, useRedisClient } from '../support/redis.ts';

const prefix = uniquePrefix('history');
const redis = useRedisClient(prefix);
let n = 0;

historyContract('redis', (size) => new RedisHistory(redis.client, new Keys(`${prefix}${++n}:`), { size, maxAgeMs: 60_000, dedupeWindowMs: 60_000 }));
