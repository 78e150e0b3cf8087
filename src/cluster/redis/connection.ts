/**
 * Creates ioredis clients for a standalone server or a Redis Cluster. Commands wait in the
 * offline queue while reconnecting (no request fails just because a reconnect is under way);
 * reconnects back off up to 2 s, forever. RESP2 is pinned: stream replies (XREADGROUP's
 * per-stream map in particular) then have the shapes Redis documents.
 */
import { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

/** The script command (see scripts.ts) whose first argument is its number of keys, not a key. */
const UNKEYED_FIRST_SCRIPT = 'syPublish';

export interface RedisConnectionOptions {
  url: string;
  /** Treat `url` as a seed node of a Redis Cluster. @default false */
  cluster: boolean;
}

const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 6), 2000);

export function connectRedis(options: RedisConnectionOptions): RedisClient {
  if (!options.cluster) {
    return new Redis(options.url, {
      protocol: 2,
      enableAutoPipelining: true,
      maxRetriesPerRequest: null,
      retryStrategy,
    });
  }
  const seed = new URL(options.url);
  return new Cluster([{ host: seed.hostname, port: Number(seed.port || 6379) }], {
    enableAutoPipelining: true,
    // ioredis picks a command's auto-pipeline by its first argument when it does not know the
    // command; for a script whose key count comes first (the publish script) that is a number,
    // not a key, and a pipeline that mixes slots fails whole, taking unrelated commands with
    // it ("All keys in the pipeline should belong to the same slots allocation group";
    // redis/ioredis#2109). That script runs once per topic in a cluster: it goes on its own.
    autoPipeliningIgnoredCommands: [UNKEYED_FIRST_SCRIPT],
    clusterRetryStrategy: retryStrategy,
    redisOptions: {
      protocol: 2,
      username: seed.username || undefined,
      password: seed.password ? decodeURIComponent(seed.password) : undefined,
      tls: seed.protocol === 'rediss:' ? {} : undefined,
      maxRetriesPerRequest: null,
    },
  });
}

/** A second connection with the same settings, for blocking reads. */
export function duplicateClient(client: RedisClient): RedisClient {
  return client instanceof Cluster ? client.duplicate() : client.duplicate();
}

/** Master nodes (cluster) or the one server: SCAN must visit each. */
export function scanTargets(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}
