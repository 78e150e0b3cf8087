/**
 * What the users scenarios measure around an interval on a two-instance cluster: the
 * instances', Redis's and this process's CPU (the load generator runs in-process here), the
 * rest of the machine, and the Redis commands executed (script-internal ones included).
 */
import type { RunningCluster } from '../cluster/clusters.ts';
import { commandsBetween, type RedisCounters } from '../cluster/redisHost.ts';
import type { MachineFigures } from '../core/outcome.ts';
import { cpuSeconds, machineCpu, type MachineCpu } from '../procStats.ts';

/** The harness's own commands at a snapshot (INFO): not part of the measured work. */
const HARNESS_COMMANDS = ['info'];

export interface UsersSnapshot {
  atMs: number;
  instanceCpuSec: number;
  redisCpuSec: number;
  generatorCpuSec: number;
  machine: MachineCpu;
  redis: RedisCounters;
}

export async function usersSnapshot(cluster: RunningCluster): Promise<UsersSnapshot> {
  cluster.assertAlive();
  const usage = process.cpuUsage();
  return {
    atMs: performance.now(),
    instanceCpuSec: cluster.instances.reduce((sum, i) => sum + cpuSeconds(i.pid), 0),
    redisCpuSec: cpuSeconds(cluster.redis.pid),
    generatorCpuSec: (usage.user + usage.system) / 1e6,
    machine: machineCpu(),
    redis: await cluster.redis.counters(),
  };
}

export interface UsersInterval extends MachineFigures {
  seconds: number;
  serverCpuCores: number;
  redisCpuCores: number;
  /** Redis commands executed in the interval, all names together. */
  redisCalls: number;
  /** Microseconds Redis spent in them. */
  redisUsec: number;
}

export function usersInterval(from: UsersSnapshot, to: UsersSnapshot): UsersInterval {
  const seconds = (to.atMs - from.atMs) / 1000;
  const cores = (a: number, b: number) => (b - a) / seconds;
  const serverCpuCores = cores(from.instanceCpuSec, to.instanceCpuSec);
  const redisCpuCores = cores(from.redisCpuSec, to.redisCpuSec);
  const generatorCpuCores = cores(from.generatorCpuSec, to.generatorCpuSec);
  const commands = commandsBetween(from.redis, to.redis);
  for (const own of HARNESS_COMMANDS) delete commands[own];
  const all = Object.values(commands);
  return {
    seconds,
    serverCpuCores,
    redisCpuCores,
    generatorCpuCores,
    otherCpuCores: Math.max(0, cores(from.machine.processSec, to.machine.processSec) - serverCpuCores - redisCpuCores - generatorCpuCores),
    interruptCpuCores: cores(from.machine.interruptSec, to.machine.interruptSec),
    processesStarted: to.machine.forks - from.machine.forks,
    redisCalls: all.reduce((n, c) => n + c.calls, 0),
    redisUsec: all.reduce((n, c) => n + c.usec, 0),
  };
}
