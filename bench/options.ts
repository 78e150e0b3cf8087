/**
 * The options of `bun run bench`, parsed once (bench/core/options.ts) into frozen
 * BenchOptions: the sizes every family shares, with the flags of the single-instance
 * scenarios, and the single-instance family itself (fan-out, latency and idle sessions
 * against the bare Bun baseline); then each family's own groups and scenarios, in the order
 * their --help lines and reports follow.
 */
import { availableParallelism } from 'node:os';
import { parseOptions as parseFlags, usage, type OptionGroup, type ScenarioFamily } from './core/options.ts';
import { SERVER_KINDS, type ServerKind } from './servers.ts';
import { AMQP_FAMILY, AMQP_OPTIONS, type AmqpOptions } from './amqp/options.ts';
import { CLUSTER_FAMILY, CLUSTER_OPTIONS, type ClusterOptions } from './cluster/options.ts';
import { SECURITY_FAMILY, SECURITY_OPTIONS, type SecurityOptions } from './security/options.ts';
import { USERS_FAMILY, USERS_OPTIONS, type UsersOptions } from './users/options.ts';
import { PRESENCE_FAMILY, PRESENCE_OPTIONS, type PresenceOptions } from './presence/options.ts';

export { UsageError } from './core/options.ts';

/** The sizes every family shares (the publish scenarios' are the cluster's too), and the idle scenario's. */
export interface HarnessSizes {
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
   * CPU in the measured interval after 2 s, and 2.5 % after 20 s (perf, docs/benchmarks-log.md).
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
  /** Loopback addresses (127.0.0.1 and up) the idle sessions are spread over; more than one makes the server listen on 0.0.0.0. */
  readonly idleAddresses: number;
  /** Server processes the idle sessions are spread over (RSS and CPU summed): past one process's open-file limit. */
  readonly idleInstances: number;
}

/** The sizes of the benchmark issue. */
const FULL: HarnessSizes = {
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
  idleAddresses: 1,
  idleInstances: 1,
};

const IDLE_STORES = ['memory', 'redis'] as const;
/** Where the idle scenario's Switchyard keeps its cluster state: in memory, or in Redis on 127.0.0.1:6379. */
export type IdleStore = (typeof IDLE_STORES)[number];

/** --quick: a smoke run of the harness (< 30 s). */
const QUICK: Partial<HarnessSizes> = {
  rounds: 1,
  warmupSec: 0.5,
  latencyWarmupSec: 0.5,
  seconds: 1,
  fanoutSubscribers: 200,
  latencySubscribers: 20,
  idleSessions: 1000,
  idleTopics: 1000,
};

export const HARNESS_OPTIONS: OptionGroup<HarnessSizes> = {
  full: FULL,
  quick: QUICK,
  sizeFlags: {
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
    'idle-addresses': 'idleAddresses',
    'idle-instances': 'idleInstances',
  },
  fractional: ['warmupSec', 'latencyWarmupSec', 'seconds', 'latencyRatePerSec'],
  sameAs: { idleTopics: 'idleSessions' },
  choices: { 'idle-store': { key: 'idleStore', values: IDLE_STORES, default: 'memory' } },
  usage: `Usage: bun run bench [flags]

  --scenario NAME        fanout, latency, idle, binary-1k, binary-64k or all (default all;
                         repeat or comma-separate); binary-*: fan-out of binary messages of
                         1 KiB / 64 KiB to --subscribers
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
  --idle-addresses N     spread the idle sessions over 127.0.0.1 .. 127.0.0.N (one address
                         runs out of ports near 28,000; default ${FULL.idleAddresses})
  --idle-instances N     spread the idle sessions over N server processes, their RSS and
                         CPU summed (with --idle-store redis they share one Redis); for
                         more sessions than one process may hold files (default 1)
  --idle-store S         memory (default) or redis: the idle Switchyard keeps its routes,
                         positions and registry in Redis on 127.0.0.1:6379, under a key
                         prefix of its own, and the report adds Redis's memory and keys per
                         session
  --workers N            subscriber load-generator processes (default ${FULL.workers})
  --open-concurrency N   sessions each worker opens at once (default ${FULL.openConcurrency})
  --payload-bytes N      approximate size of each message's data (default ${FULL.payloadBytes})
  --help`,
};

export const SINGLE_SCENARIOS = ['fanout', 'latency', 'idle', 'binary-1k', 'binary-64k'] as const;
export type SingleScenarioName = (typeof SINGLE_SCENARIOS)[number];

/** One server process (Switchyard in memory mode, or the bare Bun baseline) per round. */
export const SINGLE_FAMILY: ScenarioFamily<SingleScenarioName, BenchOptions> = {
  scenarios: SINGLE_SCENARIOS,
  byDefault: true,
  sessions: (scenario, o) =>
    ({
      fanout: o.fanoutSubscribers,
      latency: o.latencySubscribers,
      // The busiest of the idle servers, or of the workers.
      idle: Math.ceil(o.idleSessions / Math.min(o.idleInstances, o.workers)),
      'binary-1k': o.fanoutSubscribers,
      'binary-64k': o.fanoutSubscribers,
    })[scenario],
  roundBudgetSec: (scenario, o) => {
    if (scenario === 'idle') return 60 + o.idleSessions / 100;
    const fanout = scenario !== 'latency';
    return 90 + (fanout ? o.warmupSec : o.latencyWarmupSec) + o.seconds + (fanout ? o.fanoutSubscribers : o.latencySubscribers) / 100;
  },
};

/** Every family, in the order they run and report. */
export const FAMILIES = [SINGLE_FAMILY, AMQP_FAMILY, CLUSTER_FAMILY, SECURITY_FAMILY, USERS_FAMILY, PRESENCE_FAMILY] as const;
const GROUPS = [HARNESS_OPTIONS, AMQP_OPTIONS, CLUSTER_OPTIONS, SECURITY_OPTIONS, USERS_OPTIONS, PRESENCE_OPTIONS] as const;

export type ScenarioName = (typeof FAMILIES)[number]['scenarios'][number];

export interface BenchOptions extends HarnessSizes, AmqpOptions, ClusterOptions, SecurityOptions, UsersOptions, PresenceOptions {
  readonly idleStore: IdleStore;
  readonly scenarios: readonly ScenarioName[];
  readonly servers: readonly ServerKind[];
  readonly quick: boolean;
}

export const USAGE = usage(GROUPS);

/** Returns null when --help was asked for. Throws UsageError on a bad flag. */
export function parseOptions(argv: readonly string[]): BenchOptions | null {
  return parseFlags<BenchOptions>(argv, GROUPS, FAMILIES, SERVER_KINDS);
}

/** The family a scenario belongs to. */
export function familyOf(scenario: ScenarioName): ScenarioFamily<ScenarioName, BenchOptions> {
  return FAMILIES.find((f) => (f.scenarios as readonly string[]).includes(scenario)) as ScenarioFamily<ScenarioName, BenchOptions>;
}
