/**
 * The RabbitMQ family (bridge throughput, bridge latency, RPC) for the options core
 * (bench/core/options.ts): its scenarios, its sizes and flags, and its time budget.
 */
import type { OptionGroup, ScenarioFamily } from '../core/options.ts';
import type { BenchOptions } from '../options.ts';

export const AMQP_SCENARIOS = ['bridge', 'bridge-latency', 'rpc'] as const;
export type AmqpScenarioName = (typeof AMQP_SCENARIOS)[number];

const RPC_QUEUE_TYPES = ['classic', 'quorum'] as const;
/** RPC_QUEUE_TYPE of the RPC scenario's gateway, bridge and worker (and of its baseline). */
export type RpcQueueType = (typeof RPC_QUEUE_TYPES)[number];

export interface AmqpOptions extends AmqpSizes {
  readonly rpcQueueType: RpcQueueType;
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

const FULL: AmqpSizes = {
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

const DEFAULT_RPC_QUEUE_TYPE: RpcQueueType = 'classic';

export const AMQP_OPTIONS: OptionGroup<AmqpSizes> = {
  full: FULL,
  sizeFlags: {
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
  },
  fractional: ['bridgeRatePerSec', 'rpcRatePerSec'],
  choices: { 'rpc-queue-type': { key: 'rpcQueueType', values: RPC_QUEUE_TYPES, default: DEFAULT_RPC_QUEUE_TYPE } },
  usage: `
  RabbitMQ scenarios: bridge, bridge-latency, rpc. They run when named (or with --scenario
  all) and need Redis on 127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672 (\`bash
  scripts/services.sh\` starts them). Their baseline is bare amqplib on the same broker.
  --bridge-subscribers N WebSocket subscribers of the bridge scenarios (default ${FULL.bridgeSubscribers})
  --bridge-topics N      topics the updates go to, round-robin (default ${FULL.bridgeTopics})
  --amqp-window N        updates unconfirmed in flight, flood publisher (default ${FULL.amqpWindow})
  --amqp-backlog N       ready updates in the queue at most; the flood publisher waits above (default ${FULL.amqpBacklog})
  --prefetch N           BRIDGE_PREFETCH and the bare consumer's prefetch (default ${FULL.amqpPrefetch})
  --bridge-rate N        updates/s of bridge-latency (default ${FULL.bridgeRatePerSec})
  --rpc-clients N        sessions sending jobs (default ${FULL.rpcClients})
  --rpc-window N         jobs in flight per session, throughput phase (default ${FULL.rpcWindow})
  --rpc-rate N           jobs/s over all sessions, round-trip phase (default ${FULL.rpcRatePerSec})
  --rpc-concurrency N    the worker's concurrency (default ${FULL.rpcConcurrency})
  --rpc-queue-type T     classic or quorum: RPC_QUEUE_TYPE of the rpc scenario (default ${DEFAULT_RPC_QUEUE_TYPE})`,
};

/** Needs Redis and RabbitMQ, so runs only when named. */
export const AMQP_FAMILY: ScenarioFamily<AmqpScenarioName, BenchOptions> = {
  scenarios: AMQP_SCENARIOS,
  byDefault: false,
  // The gateway holds the bridge scenarios' subscribers, or the RPC scenario's client sessions.
  sessions: (scenario, o) => (scenario === 'rpc' ? o.rpcClients : o.bridgeSubscribers),
  // Process start-up and clean-up, the warm-ups and measured intervals, and the longest drains allowed.
  roundBudgetSec: (scenario, o) => {
    const startAndCleanSec = 60;
    switch (scenario) {
      case 'bridge':
        return startAndCleanSec + o.warmupSec + o.seconds + 2 * 60 + 30;
      case 'bridge-latency':
        return startAndCleanSec + o.latencyWarmupSec + o.seconds + 2 * 10 + 30;
      case 'rpc':
        return startAndCleanSec + o.latencyWarmupSec + o.warmupSec + 2 * (o.seconds + 30);
    }
  },
};
