/** The in-memory cluster's options, read from Config: shared by the gateway's entry point and the tests' backends. */
import type { Config } from '../config.ts';
import type { MemoryClusterOptions } from '../cluster/memory/memoryBackend.ts';

export function memoryClusterOptions(config: Config): MemoryClusterOptions {
  return {
    historySize: config.historySize,
    historyMaxAgeMs: config.historyMaxAgeMs,
    instanceTtlMs: config.instanceTtlMs,
    dedupeWindowMs: config.dedupeWindowMs,
    userInboxMaxLength: config.userInboxMaxLength,
    userInboxTtlMs: config.userInboxTtlMs,
  };
}
