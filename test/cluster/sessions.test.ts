/** The SessionDirectory contract on the Memory and the Redis implementation. */
import { MemorySessions } from '../../src/cluster/memory/memorySessions.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { RedisSessions } from '../../src/cluster/redis/redisSessions.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { uniquePrefix, useRedisClient } from '../support/redis.ts';
import { sessionsContract } from './contracts/sessions.contract.ts';

const prefix = uniquePrefix('sessions');
const redis = useRedisClient(prefix);
let n = 0;

sessionsContract('memory', () => new MemorySessions());
sessionsContract('redis', () => new RedisSessions(redis.client, new Keys(`${prefix}${++n}:`), silentLogger));
