/**
 * Command-line flags of `bun run bench`, parsed once into frozen BenchOptions. Defaults are
 * the sizes of the benchmark issue; --quick swaps in small ones for a smoke run, and any
 * explicit flag wins over both.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { SERVER_KINDS, type ServerKind } from './servers.ts';
import {
  AMQP_DEFAULTS,
  AMQP_FLAGS,
  AMQP_FRACTIONAL,
  AMQP_FULL,
  AMQP_SCENARIOS,
  AMQP_USAGE,
  isAmqpScenario,
  parseRpcQueueType,
  type AmqpOptions,
  type AmqpSizes,
} from './amqp/options.ts';
import { CLUSTER_DEFAULTS, CLUSTER_SCENARIOS, CLUSTER_USAGE, expandClusterAlias, isClusterScenario, parseSocketIoRuntime, type ClusterOptions } from './cluster/options.ts';

export const SCENARIOS = ['fanout', 'latency', 'idle', ...AMQP_SCENARIOS, ...CLUSTER_SCENARIOS] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions extends AmqpSizes, AmqpOptions, ClusterOptions {
  readonly scenarios: readonly ScenarioName[];
  readonly servers: readonly ServerKind[];
  readonly quick: boolean;
  /**
   * Times each scenario runs against each server, alternating between them; the report shows
   * the median of every figure. Latency tails on a shared 2-core machine vary a lot between runs.
   */
  readonly rounds: number;
  /** Load-generator processes holding subscriber sessions (a publisher gets its own). */
  readonly workers: number;
  /** Sessions each worker opens at once. */
  readonly openConcurrency: number;
  /** Load before the measured interval, so that JIT and buffers have settled. */
  readonly warmupSec: number;
  /**
   * The same for the fixed-rate (latency) phases. At 1,000 messages/s two seconds are not
   * enough: in the bridge-latency scenario JSC's JIT thread still took 28 % of the bridge's
   * CPU in the measured interval after 2 s, and 2.5 % after 20 s (perf, docs/benchmarks.md).
   */
  readonly latencyWarmupSec: number;
  /** Length of the measured interval of the fan-out and latency scenarios. */
  readonly seconds: number;
  /** Approximate size of each message's `data`. */
  readonly payloadBytes: number;
  readonly fanoutSubscribers: number;
  /** Publishes allowed in flight without an ack. */
  readonly fanoutWindow: number;
  readonly latencySubscribers: number;
  readonly latencyRatePerSec: number;
  readonly idleSessions: number;
  /** Distinct topics the idle sessions subscribe to, round-robin; by default one per session. */
  readonly idleTopics: number;
}

type Sizes = { -readonly [K in Exclude<keyof BenchOptions, 'scenarios' | 'servers' | 'quick' | keyof ClusterOptions | keyof AmqpOptions>]: BenchOptions[K] };

const FULL: Sizes = {
  rounds: 3,
  // One subscriber process per core: more only adds context switches (measured: on 2 cores,
  // 4 workers gave ~10% fewer deliveries/s and twice the p99 of 2 workers).
  workers: Math.max(2, availableParallelism()),
  openConcurrency: 100,
  warmupSec: 2,
  latencyWarmupSec: 15,
  seconds: 5,
  payloadBytes: 64,
  fanoutSubscribers: 2000,
  fanoutWindow: 64,
  latencySubscribers: 100,
  latencyRatePerSec: 1000,
  idleSessions: 10_000,
  idleTopics: 10_000,
  ...AMQP_FULL,
};

const QUICK: Sizes = {
  ...FULL,
  rounds: 1,
  warmupSec: 0.5,
  latencyWarmupSec: 0.5,
  seconds: 1,
  fanoutSubscribers: 200,
  latencySubscribers: 20,
  idleSessions: 1000,
  idleTopics: 1000,
};

/** Flag name -> the option it sets; all of these take a positive number. */
const NUMERIC_FLAGS = {
  rounds: 'rounds',
  workers: 'workers',
  'open-concurrency': 'openConcurrency',
  warmup: 'warmupSec',
  'latency-warmup': 'latencyWarmupSec',
  seconds: 'seconds',
  'payload-bytes': 'payloadBytes',
  subscribers: 'fanoutSubscribers',
  window: 'fanoutWindow',
  'latency-subscribers': 'latencySubscribers',
  rate: 'latencyRatePerSec',
  sessions: 'idleSessions',
  'idle-topics': 'idleTopics',
  ...AMQP_FLAGS,
} as const satisfies Record<string, keyof Sizes>;

/** Options measured in whole units (sessions, processes, bytes); the others may be fractional. */
const FRACTIONAL: ReadonlySet<keyof Sizes> = new Set(['warmupSec', 'latencyWarmupSec', 'seconds', 'latencyRatePerSec', ...AMQP_FRACTIONAL]);

export const USAGE = `Usage: bun run bench [flags]

  --scenario NAME        fanout, latency, idle or all (default all; repeat or comma-separate)
  --servers LIST         baseline,switchyard (default both; ratios need both)
  --quick                small sizes and one round, for a smoke run (< 30 s)
  --rounds N             runs per scenario and server, median reported (default ${FULL.rounds})
  --subscribers N        fan-out subscribers on one topic (default ${FULL.fanoutSubscribers})
  --window N             fan-out publishes in flight (default ${FULL.fanoutWindow})
  --seconds S            measured interval of fan-out and latency (default ${FULL.seconds})
  --warmup S             load before the measured interval (default ${FULL.warmupSec})
  --latency-warmup S     the same for fixed-rate latency phases (default ${FULL.latencyWarmupSec})
  --latency-subscribers N  (default ${FULL.latencySubscribers})
  --rate N               latency publishes per second (default ${FULL.latencyRatePerSec})
  --sessions N           idle subscribed sessions (default ${FULL.idleSessions})
  --idle-topics N        distinct topics of the idle sessions (default: one per session)
  --workers N            subscriber load-generator processes (default ${FULL.workers})
  --open-concurrency N   sessions each worker opens at once (default ${FULL.openConcurrency})
  --payload-bytes N      approximate size of each message's data (default ${FULL.payloadBytes})
  --help
${AMQP_USAGE}
${CLUSTER_USAGE}`;

export class UsageError extends Error {}

function list<T extends string>(values: string[] | undefined, allowed: readonly T[], flag: string): T[] | undefined {
  if (!values || values.length === 0) return undefined;
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  if (names.includes('all')) return [...allowed];
  for (const name of names) {
    if (!(allowed as readonly string[]).includes(name)) throw new UsageError(`--${flag}: unknown ${JSON.stringify(name)}; one of ${allowed.join(', ')}`);
  }
  return allowed.filter((a) => names.includes(a));
}

/** Returns null when --help was asked for. Throws UsageError on a bad flag. */
export function parseOptions(argv: string[]): BenchOptions | null {
  const numeric = Object.fromEntries(Object.keys(NUMERIC_FLAGS).map((flag) => [flag, { type: 'string' as const }]));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...numeric,
        scenario: { type: 'string', multiple: true },
        servers: { type: 'string', multiple: true },
        'socketio-runtime': { type: 'string' },
        'rpc-queue-type': { type: 'string' },
        quick: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (values.help) return null;
  const quick = values.quick === true;
  const sizes: Sizes = { ...(quick ? QUICK : FULL) };
  for (const [flag, key] of Object.entries(NUMERIC_FLAGS) as [string, keyof Sizes][]) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const n = Number(raw);
    const valid = Number.isFinite(n) && n > 0 && (FRACTIONAL.has(key) || Number.isInteger(n));
    if (!valid) throw new UsageError(`--${flag}: expected a positive ${FRACTIONAL.has(key) ? 'number' : 'integer'}, got ${JSON.stringify(raw)}`);
    sizes[key] = n;
  }
  if (values['idle-topics'] === undefined) sizes.idleTopics = sizes.idleSessions;
  const runtimeFlag = values['socketio-runtime'];
  const socketioRuntime = typeof runtimeFlag === 'string' ? parseSocketIoRuntime(runtimeFlag) : CLUSTER_DEFAULTS.socketioRuntime;
  if (socketioRuntime === null) throw new UsageError(`--socketio-runtime: expected bun or node, got ${JSON.stringify(runtimeFlag)}`);
  const queueTypeFlag = values['rpc-queue-type'];
  const rpcQueueType = typeof queueTypeFlag === 'string' ? parseRpcQueueType(queueTypeFlag) : AMQP_DEFAULTS.rpcQueueType;
  if (rpcQueueType === null) throw new UsageError(`--rpc-queue-type: expected classic or quorum, got ${JSON.stringify(queueTypeFlag)}`);
  return Object.freeze({
    ...sizes,
    socketioRuntime,
    rpcQueueType,
    quick,
    // The RabbitMQ scenarios need Redis and RabbitMQ running: they run when named, or with `all`.
    // So do the cluster scenarios (Redis); `--scenario cluster` names both.
    scenarios: list(expandClusterAlias(values.scenario as string[] | undefined), SCENARIOS, 'scenario') ?? SCENARIOS.filter((s) => !isAmqpScenario(s) && !isClusterScenario(s)),
    servers: list(values.servers as string[] | undefined, SERVER_KINDS, 'servers') ?? [...SERVER_KINDS],
  });
}
