/**
 * The cluster family (two instances + Redis, against two Socket.IO instances with the Redis
 * streams adapter) for the options core (bench/core/options.ts): its scenarios, its one flag,
 * and its time budget. Its sizes are the single-instance scenarios' (--subscribers, --window,
 * --latency-subscribers, --rate, --seconds, --warmup, --rounds).
 */
import type { OptionGroup, ScenarioFamily } from '../core/options.ts';
import type { BenchOptions } from '../options.ts';
import type { ServerKind } from '../servers.ts';

export const CLUSTER_SCENARIOS = ['cluster-fanout', 'cluster-latency'] as const;
export type ClusterScenarioName = (typeof CLUSTER_SCENARIOS)[number];

/**
 * In a cluster scenario the two servers of the harness are clusters: the Socket.IO peer
 * takes the baseline's place (so --servers, rounds and ratios work as everywhere else).
 */
export const CLUSTER_OF_SERVER = { baseline: 'socketio-cluster', switchyard: 'switchyard-cluster' } as const satisfies Record<ServerKind, string>;

const SOCKETIO_RUNTIMES = ['bun', 'node'] as const;
export type SocketIoRuntime = (typeof SOCKETIO_RUNTIMES)[number];

export interface ClusterOptions {
  /**
   * What runs the Socket.IO peer. Bun by default: the runtime Switchyard runs on, and the
   * peer's faster one here (its `ws` is then Bun's native WebSocket; see docs/benchmarks-log.md).
   */
  readonly socketioRuntime: SocketIoRuntime;
}

const DEFAULT_SOCKETIO_RUNTIME: SocketIoRuntime = 'bun';

export const CLUSTER_OPTIONS: OptionGroup<Record<string, never>> = {
  full: {},
  sizeFlags: {},
  choices: { 'socketio-runtime': { key: 'socketioRuntime', values: SOCKETIO_RUNTIMES, default: DEFAULT_SOCKETIO_RUNTIME } },
  usage: `
  Cluster scenarios (need Redis on 127.0.0.1:6379; started if installed): cluster-fanout,
  cluster-latency, or \`cluster\` for both. Two Switchyard instances against two Socket.IO
  instances with @socket.io/redis-streams-adapter, which take the "baseline" place (see
  docs/benchmarks.md). Sizes: --subscribers, --window, --latency-subscribers, --rate.
  --socketio-runtime R   bun or node: what runs the Socket.IO peer (default ${DEFAULT_SOCKETIO_RUNTIME})`,
};

/** Needs Redis, so runs only when named; `--scenario cluster` names both. */
export const CLUSTER_FAMILY: ScenarioFamily<ClusterScenarioName, BenchOptions> = {
  scenarios: CLUSTER_SCENARIOS,
  byDefault: false,
  aliases: { cluster: CLUSTER_SCENARIOS },
  sessions: (scenario, o) => (scenario === 'cluster-fanout' ? o.fanoutSubscribers : o.latencySubscribers),
  // Two instances started, run, stopped, keys deleted.
  roundBudgetSec: (scenario, o) => {
    const fanout = scenario === 'cluster-fanout';
    return 120 + (fanout ? o.warmupSec : o.latencyWarmupSec) + o.seconds + (fanout ? o.fanoutSubscribers : o.latencySubscribers) / 50;
  },
};
