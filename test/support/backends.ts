/**
 * The cluster backends the gateway suite runs on, and a fresh backend for each gateway: the
 * in-memory one, or a RedisBackend on the test Redis under a key prefix of its own, whose
 * keys are deleted after it closed.
 *
 * Every test/gateway file loops over BACKENDS (`for (const backend of BACKENDS)
 * describe(backend, …)`), the way socket.io's redis-streams-adapter calls its one suite per
 * Redis client, rather than scripts/test.sh running `bun test test/gateway` again with an
 * environment variable selecting Redis. With the loop, one `bun test` run covers both: a file
 * run by hand checks both backends, a failure names its backend in the test's path
 * ("redis > protocol v1 > …"), and bun's own summary counts every test, with no sums in the
 * script. startGateway() takes the backend as a required argument, so a new gateway test
 * cannot run on one backend without saying which.
 */
import type { Config } from '../../src/config.ts';
import type { ClusterBackend } from '../../src/cluster/backend.ts';
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import type { MemoryBroker } from '../../src/cluster/memory/memoryBroker.ts';
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import { redisBackendOptions } from '../../src/main/redisBackendOptions.ts';
import { memoryClusterOptions } from '../../src/main/memoryClusterOptions.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from './redis.ts';

export const BACKENDS = ['memory', 'redis'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface TestBackend {
  backend: ClusterBackend;
  /** Deletes what the backend left in its store; called after it closed. */
  cleanup(): Promise<void>;
}

/**
 * A backend built as src/main/gateway.ts builds it from the same Config (for Redis: with
 * REDIS_URL the test server and a unique REDIS_KEY_PREFIX), not started yet.
 */
export async function createBackend(name: BackendName, config: Config): Promise<TestBackend> {
  if (name === 'memory') {
    const cluster = new MemoryCluster(memoryClusterOptions(config));
    return { backend: cluster.backend(config.instanceId), cleanup: async () => {} };
  }
  await requireRedis();
  const prefix = uniquePrefix('gateway');
  const options = redisBackendOptions({ ...config, redisUrl: REDIS_URL, redisCluster: false, redisKeyPrefix: prefix }, config.instanceId, config.heartbeatIntervalMs);
  return {
    backend: new RedisBackend(options, silentLogger),
    cleanup: async () => {
      const admin = testClient();
      try {
        await deleteKeysUnder(admin, prefix);
      } finally {
        admin.disconnect();
      }
    },
  };
}

/**
 * Appends one message to a topic's history and nothing else: no route is read and no inbox
 * written, as if its publisher had stopped between the two (the ordering tests then send the
 * envelope by hand). Memory: the broker's topic logs; Redis: an XADD on the history stream,
 * shaped as the publish script writes it.
 */
export async function appendToHistoryOnly(backend: ClusterBackend, app: string, topic: string, data: string): Promise<{ offset: string; prev: string }> {
  if (backend instanceof RedisBackend) {
    const key = backend.keys.history(app, topic);
    const newest = (await backend.client.call('XREVRANGE', key, '+', '-', 'COUNT', 1)) as [string, string[]][];
    const prev = newest[0]?.[0] ?? (await backend.broker.position(app, topic));
    const offset = (await backend.client.call('XADD', key, '*', 'd', data)) as string;
    return { offset, prev };
  }
  const broker = backend.broker as MemoryBroker;
  return broker.logs.append(app, topic, data);
}
