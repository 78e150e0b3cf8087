/**
 * Snapshots of a cluster run: measure.ts's Snapshot with the server figures summed over the
 * instances, plus each instance's CPU time, Redis's CPU time (its process, read like any
 * other) and Redis's command counters. Redis's CPU is kept apart from the servers' and from
 * "other processes", so that it neither inflates the servers' figures nor marks a round as
 * disturbed.
 */
import { nowMs } from '../clock.ts';
import { machineFigures, type MachineFigures } from '../core/outcome.ts';
import { interval, stats, type Interval, type Snapshot } from '../measure.ts';
import { cpuSeconds, machineCpu, rssBytes } from '../procStats.ts';
import type { LoadWorker } from '../workerPool.ts';
import type { RunningCluster } from './clusters.ts';
import { activeForeignClients } from './foreignClients.ts';
import { commandsBetween, type RedisCounters } from './redisHost.ts';

/** What the harness itself sends Redis at each snapshot (commandstats names). */
const HARNESS_COMMANDS = ['info', 'client|list'] as const;

/** `serverCpuSec` and `serverRssBytes` are sums over the instances. */
export interface ClusterSnapshot extends Snapshot {
  /** In the order of cluster.instances (A first). */
  instanceCpuSec: number[];
  redisCpuSec: number;
  redis: RedisCounters;
  /** Other programs' Redis clients that were busy (see foreignClients.ts). */
  foreignRedisClients: number;
}

export async function clusterSnapshot(cluster: RunningCluster, workers: readonly LoadWorker[]): Promise<ClusterSnapshot> {
  cluster.assertAlive();
  const serverAtMs = nowMs();
  const instanceCpuSec = cluster.instances.map((i) => cpuSeconds(i.pid));
  const redisCpuSec = cpuSeconds(cluster.redis.pid);
  const serverRssBytes = clusterRssBytes(cluster);
  const machine = machineCpu();
  const pids = [...cluster.instances.map((i) => i.pid), process.pid];
  const [workerStats, redis, foreignRedisClients] = await Promise.all([stats(workers), cluster.redis.counters(), activeForeignClients(cluster.redis, pids)]);
  return { serverAtMs, serverCpuSec: sum(instanceCpuSec), serverRssBytes, machine, workers: workerStats, instanceCpuSec, redisCpuSec, redis, foreignRedisClients };
}

export interface ClusterInterval extends Interval {
  /** Per instance, A first. */
  instanceCpuCores: number[];
  redisCpuCores: number;
  /**
   * Redis commands executed meanwhile, by name, with the time Redis spent in them; commands
   * run by a Lua script count too (and the script's own time includes theirs). The harness's
   * own calls are left out.
   */
  redisCommands: Record<string, { calls: number; usec: number }>;
  /** Read events Redis processed meanwhile: about its round trips (see RedisCounters). */
  redisReads: number;
  /** Other programs' busy Redis clients, at the start or the end (whichever saw more). */
  foreignRedisClients: number;
}

export function clusterInterval(from: ClusterSnapshot, to: ClusterSnapshot): ClusterInterval {
  const span = interval(from, to);
  const perSec = (a: number, b: number) => (b - a) / span.seconds;
  const redisCpuCores = perSec(from.redisCpuSec, to.redisCpuSec);
  const processCores = perSec(from.machine.processSec, to.machine.processSec);
  const redisCommands = commandsBetween(from.redis, to.redis);
  for (const own of HARNESS_COMMANDS) delete redisCommands[own];
  return {
    ...span,
    // Redis is one of the systems under test here, not a neighbour.
    otherCpuCores: Math.max(0, processCores - span.serverCpuCores - span.generatorCpuCores - redisCpuCores),
    instanceCpuCores: to.instanceCpuSec.map((cpu, i) => perSec(from.instanceCpuSec[i]!, cpu)),
    redisCpuCores,
    redisCommands,
    // Less the harness's own calls at a snapshot (two INFO, one CLIENT LIST).
    redisReads: Math.max(0, to.redis.reads - from.redis.reads - 3),
    foreignRedisClients: Math.max(from.foreignRedisClients, to.foreignRedisClients),
  };
}

/** What both cluster scenarios report of Redis's work per publish and of the rest of the machine, in this order. */
/** `otherCpuCores` leaves Redis out: here it is under test, not a neighbour. */
export interface ClusterMachineFigures extends MachineFigures {
  /**
   * Per acknowledged publish: commands Redis executed (those run by Lua scripts included),
   * and read events it processed (about its round trips; pipelining makes them fewer).
   */
  redisCommandsPerPublish: number;
  redisReadsPerPublish: number;
  /** Other programs' Redis clients busy during the interval (see foreignClients.ts). */
  foreignRedisClients: number;
}

/** `publishes`: those acknowledged during `span`. */
export function clusterMachineFigures(span: ClusterInterval, publishes: number): ClusterMachineFigures {
  return {
    redisCommandsPerPublish: commandsPerPublish(span, publishes),
    redisReadsPerPublish: span.redisReads / publishes,
    ...machineFigures(span),
    foreignRedisClients: span.foreignRedisClients,
  };
}

/** RSS of the instances together. */
function clusterRssBytes(cluster: RunningCluster): number {
  return sum(cluster.instances.map((i) => rssBytes(i.pid)));
}

/** Commands executed (inside scripts included) per publish. */
function commandsPerPublish(span: ClusterInterval, publishes: number): number {
  return Object.values(span.redisCommands).reduce((n, c) => n + c.calls, 0) / publishes;
}

/** One line for the progress log: per publish, each command's calls and Redis time, most called first. */
export function describeCommands(span: ClusterInterval, publishes: number): string {
  return Object.entries(span.redisCommands)
    .sort((a, b) => b[1].calls - a[1].calls)
    .map(([name, c]) => `${name} ${(c.calls / publishes).toFixed(2)} (${(c.usec / publishes).toFixed(1)} us)`)
    .join(', ');
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
