/** The InstanceRegistry contract on the Memory and the Redis implementation. */
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import { MemoryRegistry } from '../../src/cluster/memory/memoryRegistry.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { RedisRegistry } from '../../src/cluster/redis/redisRegistry.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { uniquePrefix, useRedisClient } from '../support/redis.ts';
import { REGISTRY_TTL_MS, registryContract } from './contracts/registry.contract.ts';

const prefix = uniquePrefix('registry');
const redis = useRedisClient(prefix);
let n = 0;

registryContract('memory', () => new MemoryRegistry(new MemoryCluster({ instanceTtlMs: REGISTRY_TTL_MS })));
registryContract('redis', () => new RedisRegistry(redis.client, new Keys(`${prefix}${++n}:`), REGISTRY_TTL_MS, silentLogger));
