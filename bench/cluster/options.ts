/**
 * Names, flags and time budget of the cluster scenarios (two instances + Redis, against two
 * Socket.IO instances with the Redis streams adapter). Kept apart from bench/options.ts,
 * which spreads them into its own tables. Their sizes are the single-instance scenarios'
 * (--subscribers, --window, --latency-subscribers, --rate, --seconds, --warmup, --rounds).
 */
import type { ServerKind } from '../servers.ts';

export const CLUSTER_SCENARIOS = ['cluster-fanout', 'cluster-latency'] as const;
export type ClusterScenarioName = (typeof CLUSTER_SCENARIOS)[number];

export function isClusterScenario(name: string): name is ClusterScenarioName {
  return (CLUSTER_SCENARIOS as readonly string[]).includes(name);
}

/** `--scenario cluster` names both cluster scenarios. */
export function expandClusterAlias(names: readonly string[] | undefined): string[] | undefined {
  return names?.flatMap((v) => v.split(',')).flatMap((n) => (n.trim() === 'cluster' ? [...CLUSTER_SCENARIOS] : [n]));
}

/**
 * In a cluster scenario the two servers of the harness are clusters: the Socket.IO peer
 * takes the baseline's place (so --servers, rounds and ratios work as everywhere else).
 */
export const CLUSTER_OF_SERVER = { baseline: 'socketio-cluster', switchyard: 'switchyard-cluster' } as const satisfies Record<ServerKind, string>;

export const SOCKETIO_RUNTIMES = ['bun', 'node'] as const;
export type SocketIoRuntime = (typeof SOCKETIO_RUNTIMES)[number];

export interface ClusterOptions {
  /**
   * What runs the Socket.IO peer. Bun by default: the runtime Switchyard runs on, and the
   * peer's faster one here (its `ws` is then Bun's native WebSocket; see docs/benchmarks.md).
   */
  readonly socketioRuntime: SocketIoRuntime;
}

export const CLUSTER_DEFAULTS: ClusterOptions = { socketioRuntime: 'bun' };

/** The value of --socketio-runtime, or null when it names no runtime. */
export function parseSocketIoRuntime(raw: string): SocketIoRuntime | null {
  return (SOCKETIO_RUNTIMES as readonly string[]).includes(raw) ? (raw as SocketIoRuntime) : null;
}

export const CLUSTER_USAGE = `
  Cluster scenarios (need Redis on 127.0.0.1:6379; started if installed): cluster-fanout,
  cluster-latency, or \`cluster\` for both. Two Switchyard instances against two Socket.IO
  instances with @socket.io/redis-streams-adapter, which take the "baseline" place (see
  docs/benchmarks.md). Sizes: --subscribers, --window, --latency-subscribers, --rate.
  --socketio-runtime R   bun or node: what runs the Socket.IO peer (default ${CLUSTER_DEFAULTS.socketioRuntime})`;

/** Generous upper bound of one round (two instances started, run, stopped, keys deleted). */
export function clusterRoundBudgetSec(
  scenario: ClusterScenarioName,
  o: { warmupSec: number; latencyWarmupSec: number; seconds: number; fanoutSubscribers: number; latencySubscribers: number },
): number {
  const fanout = scenario === 'cluster-fanout';
  return 120 + (fanout ? o.warmupSec : o.latencyWarmupSec) + o.seconds + (fanout ? o.fanoutSubscribers : o.latencySubscribers) / 50;
}
