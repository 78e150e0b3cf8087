/** The Redis backend's options, read from Config: shared by the gateway's and the bridge's entry points. */
import type { Config } from '../config.ts';
import type { RedisBackendOptions } from '../cluster/redis/redisBackend.ts';

export function redisBackendOptions(
  config: Config & { redisUrl: string },
  instanceId: string,
  /** How often to look for dead instances; 0 for a process that is no instance (the bridge). */
  reapIntervalMs: number,
): RedisBackendOptions {
  return {
    url: config.redisUrl,
    cluster: config.redisCluster,
    keyPrefix: config.redisKeyPrefix,
    instanceId,
    historySize: config.historySize,
    historyMaxAgeMs: config.historyMaxAgeMs,
    dedupeWindowMs: config.dedupeWindowMs,
    instanceTtlMs: config.instanceTtlMs,
    reapIntervalMs,
    resumeWindowMs: config.resumeWindowMs,
    userInboxMaxLength: config.userInboxMaxLength,
    userInboxTtlMs: config.userInboxTtlMs,
    inbox: { batchSize: config.inboxBatchSize, blockTimeInMs: config.inboxBlockMs, maxLength: config.inboxMaxLength },
  };
}
