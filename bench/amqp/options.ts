/**
 * Flags and sizes of the RabbitMQ scenarios (bridge throughput, bridge latency, RPC). Kept
 * apart from bench/options.ts, which spreads them into its own tables, so that the AMQP
 * scenarios add lines there instead of changing them.
 */

export const AMQP_SCENARIOS = ['bridge', 'bridge-latency', 'rpc'] as const;
export type AmqpScenarioName = (typeof AMQP_SCENARIOS)[number];

export function isAmqpScenario(name: string): name is AmqpScenarioName {
  return (AMQP_SCENARIOS as readonly string[]).includes(name);
}

/** RPC_QUEUE_TYPE of the RPC scenario's gateway, bridge and worker (and of its baseline). */
export type RpcQueueType = 'classic' | 'quorum';

export interface AmqpOptions {
  readonly rpcQueueType: RpcQueueType;
}

export const AMQP_DEFAULTS: AmqpOptions = { rpcQueueType: 'classic' };

/** The value of --rpc-queue-type, or null when it names no queue type. */
export function parseRpcQueueType(value: string): RpcQueueType | null {
  return value === 'classic' || value === 'quorum' ? value : null;
}

export interface AmqpSizes {
  /** WebSocket subscribers of the bridge scenarios, spread round-robin over the topics. */
  readonly bridgeSubscribers: number;
  /** Topics the updates go to, round-robin. */
  readonly bridgeTopics: number;
  /** Updates published to RabbitMQ and not yet confirmed, at most (flood publisher). */
  readonly amqpWindow: number;
  /** Ready updates in the queue at most: the flood publisher pauses above it. */
  readonly amqpBacklog: number;
  /**
   * Unacknowledged messages a consumer holds: BRIDGE_PREFETCH of the bridge, and the bare
   * consumer's prefetch, so that both are measured with the same setting.
   */
  readonly amqpPrefetch: number;
  /** Updates per second of the bridge latency scenario. */
  readonly bridgeRatePerSec: number;
  /** WebSocket sessions sending `rpc` frames (each its own session, so its own job limit). */
  readonly rpcClients: number;
  /** Jobs each client keeps in flight in the RPC throughput phase. */
  readonly rpcWindow: number;
  /** Jobs per second (over all clients) of the RPC round-trip phase. */
  readonly rpcRatePerSec: number;
  /** Jobs the worker process runs at once (createWorker's `concurrency`). */
  readonly rpcConcurrency: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export const AMQP_FULL: Mutable<AmqpSizes> = {
  bridgeSubscribers: 10,
  bridgeTopics: 5,
  // Enough confirms in flight to keep a quorum queue's batched writes full: the bare rate
  // levels off here (measured on 2 cores: 20,900/s at 250, 25,500/s at 1,000, 24,200/s at 4,000).
  amqpWindow: 1000,
  // Eight polls' worth of the fastest consumer (~25,000/s, polled every 5 ms): it never runs
  // dry, and the queue stays short.
  amqpBacklog: 1000,
  // BRIDGE_PREFETCH's default.
  amqpPrefetch: 256,
  bridgeRatePerSec: 1000,
  rpcClients: 8,
  rpcWindow: 8,
  rpcRatePerSec: 1000,
  rpcConcurrency: 64,
};

/** Flag name -> the size it sets; all take a positive number. */
export const AMQP_FLAGS = {
  'bridge-subscribers': 'bridgeSubscribers',
  'bridge-topics': 'bridgeTopics',
  'amqp-window': 'amqpWindow',
  'amqp-backlog': 'amqpBacklog',
  prefetch: 'amqpPrefetch',
  'bridge-rate': 'bridgeRatePerSec',
  'rpc-clients': 'rpcClients',
  'rpc-window': 'rpcWindow',
  'rpc-rate': 'rpcRatePerSec',
  'rpc-concurrency': 'rpcConcurrency',
} as const satisfies Record<string, keyof AmqpSizes>;

/** Sizes that may be fractional (the others are counts). */
export const AMQP_FRACTIONAL: readonly (keyof AmqpSizes)[] = ['bridgeRatePerSec', 'rpcRatePerSec'];

export const AMQP_USAGE = `
  RabbitMQ scenarios: bridge, bridge-latency, rpc. They run when named (or with --scenario
  all) and need Redis on 127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672 (\`bash
  scripts/services.sh\` starts them). Their baseline is bare amqplib on the same broker.
  --bridge-subscribers N WebSocket subscribers of the bridge scenarios (default ${AMQP_FULL.bridgeSubscribers})
  --bridge-topics N      topics the updates go to, round-robin (default ${AMQP_FULL.bridgeTopics})
  --amqp-window N        updates unconfirmed in flight, flood publisher (default ${AMQP_FULL.amqpWindow})
  --amqp-backlog N       ready updates in the queue at most; the flood publisher waits above (default ${AMQP_FULL.amqpBacklog})
  --prefetch N           BRIDGE_PREFETCH and the bare consumer's prefetch (default ${AMQP_FULL.amqpPrefetch})
  --bridge-rate N        updates/s of bridge-latency (default ${AMQP_FULL.bridgeRatePerSec})
  --rpc-clients N        sessions sending jobs (default ${AMQP_FULL.rpcClients})
  --rpc-window N         jobs in flight per session, throughput phase (default ${AMQP_FULL.rpcWindow})
  --rpc-rate N           jobs/s over all sessions, round-trip phase (default ${AMQP_FULL.rpcRatePerSec})
  --rpc-concurrency N    the worker's concurrency (default ${AMQP_FULL.rpcConcurrency})
  --rpc-queue-type T     classic or quorum: RPC_QUEUE_TYPE of the rpc scenario (default ${AMQP_DEFAULTS.rpcQueueType})`;

/**
 * Generous upper bound of one round of a RabbitMQ scenario, for the watchdog only: process
 * start-up and clean-up, the warm-ups and measured intervals, and the longest drains allowed.
 */
export function amqpRoundBudgetSec(scenario: AmqpScenarioName, o: { warmupSec: number; latencyWarmupSec: number; seconds: number }): number {
  const startAndCleanSec = 60;
  switch (scenario) {
    case 'bridge':
      return startAndCleanSec + o.warmupSec + o.seconds + 2 * 60 + 30;
    case 'bridge-latency':
      return startAndCleanSec + o.latencyWarmupSec + o.seconds + 2 * 10 + 30;
    case 'rpc':
      return startAndCleanSec + o.latencyWarmupSec + o.warmupSec + 2 * (o.seconds + 30);
  }
}
