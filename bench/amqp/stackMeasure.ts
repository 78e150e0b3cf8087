/**
 * Snapshots of a RabbitMQ scenario in progress: the CPU time of every server process taking
 * part (gateway, bridge, worker, and the RabbitMQ and Redis servers), the load workers'
 * counters and CPU, the bridge's own counters (/metrics), and the machine's CPU (/proc).
 * Rates are differences between two snapshots, each worker's over its own interval (a busy
 * worker answers late), as in bench/measure.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { nowMs } from '../clock.ts';
import { machineFigures, type MachineFigures } from '../core/outcome.ts';
import { stats, workerRate, type Counter } from '../measure.ts';
import { cpuSeconds, machineCpu, type MachineCpu } from '../procStats.ts';
import type { LoadWorker } from '../workerPool.ts';
import type { WorkerStats } from '../workerProtocol.ts';
import type { AmqpLoadWorker } from './amqpWorkerPool.ts';
import type { AmqpWorkerStats } from './amqpWorkerProtocol.ts';

const STATS_TIMEOUT_MS = 10_000;

/** The server processes whose CPU a scenario reports separately. */
export const SERVER_ROLES = ['gateway', 'bridge', 'worker', 'rabbitmq', 'redis'] as const;
export type ServerRole = (typeof SERVER_ROLES)[number];

export interface Watched {
  role: ServerRole;
  pid: number;
  /** Throws when the process has exited (the harness's own children). */
  assertAlive?(): void;
}

/** What a scenario measures in one round. */
export interface Probes {
  servers: readonly Watched[];
  /** Subscriber workers (bench/loadWorker.ts). */
  subscribers: readonly LoadWorker[];
  /** Publisher, consumer and client workers (bench/amqp/amqpWorker.ts). */
  amqpWorkers: readonly AmqpLoadWorker[];
  /** Port of the bridge's /metrics, when a bridge runs. */
  bridgePort?: number;
}

export interface BridgeCounters {
  stored: number;
  repliesRouted: number;
  deadLettered: number;
}

export interface StackSnapshot {
  /** When the servers were read. */
  serverAtMs: number;
  /** Threads of the harness and every process it started, directly or not (see ownThreads). */
  ownThreads: number;
  cpuSec: Partial<Record<ServerRole, number>>;
  harnessCpuSec: number;
  machine: MachineCpu;
  bridge: BridgeCounters | null;
  subscribers: WorkerStats[];
  amqpWorkers: AmqpWorkerStats[];
}

export async function bridgeCounters(port: number): Promise<BridgeCounters> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`bridge /metrics answered ${res.status}`);
  let stored = 0;
  let repliesRouted = 0;
  let deadLettered = 0;
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('switchyard_bridge_updates_stored_total ')) stored = value;
    else if (line.startsWith('switchyard_bridge_replies_routed_total ')) repliesRouted = value;
    else if (line.startsWith('switchyard_bridge_dead_lettered_total')) deadLettered += value;
  }
  return { stored, repliesRouted, deadLettered };
}

/**
 * Threads now alive in the harness's process tree. The machine's fork counter also counts
 * threads, and the processes of a round are young: Bun starts JIT and GC helper threads in
 * them while they run. Those are not other work on the machine, so the interval subtracts
 * their growth from the forks it reports.
 */
function ownThreads(): number {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  let threads = 0;
  for (const pid of parentOf.keys()) {
    let ancestor: number | undefined = pid;
    while (ancestor !== undefined && ancestor > 1 && ancestor !== process.pid) ancestor = parentOf.get(ancestor);
    if (ancestor !== process.pid) continue;
    try {
      threads += readdirSync(`/proc/${pid}/task`).length;
    } catch {
      // exited meanwhile
    }
  }
  return threads;
}

export async function snapshot(p: Probes): Promise<StackSnapshot> {
  for (const s of p.servers) s.assertAlive?.();
  const serverAtMs = nowMs();
  const cpuSec: Partial<Record<ServerRole, number>> = {};
  for (const s of p.servers) cpuSec[s.role] = cpuSeconds(s.pid);
  const own = process.cpuUsage();
  const machine = machineCpu();
  const threads = ownThreads();
  const [bridge, subscribers, amqpWorkers] = await Promise.all([
    p.bridgePort === undefined ? null : bridgeCounters(p.bridgePort),
    stats(p.subscribers),
    Promise.all(p.amqpWorkers.map((w) => w.request({ op: 'stats' }, STATS_TIMEOUT_MS))),
  ]);
  return { serverAtMs, ownThreads: threads, cpuSec, harnessCpuSec: (own.user + own.system) / 1e6, machine, bridge, subscribers, amqpWorkers };
}

export interface StackInterval {
  seconds: number;
  /** CPU seconds per wall second of each server process (1.0 = one core busy). */
  serverCores: Record<ServerRole, number>;
  /** Every load worker (subscribers, publishers, clients, bare consumers) together. */
  generatorCpuCores: number;
  /** CPU of every other process of the machine. */
  otherCpuCores: number;
  /** Kernel interrupt work charged to no process (loopback TCP for the most part). */
  interruptCpuCores: number;
  /** Processes or threads started on the machine meanwhile, other than the round's own (see ownThreads). */
  processesStarted: number;
  /** Bridge counters per second (0 without a bridge). */
  bridgeStoredPerSec: number;
  bridgeRepliesPerSec: number;
  subscriberRate(counter: Counter<WorkerStats>): number;
  amqpRate(counter: Counter<AmqpWorkerStats>): number;
}

export function interval(from: StackSnapshot, to: StackSnapshot): StackInterval {
  const seconds = (to.serverAtMs - from.serverAtMs) / 1000;
  const serverCores = Object.fromEntries(SERVER_ROLES.map((role) => [role, ((to.cpuSec[role] ?? 0) - (from.cpuSec[role] ?? 0)) / seconds])) as Record<ServerRole, number>;
  const generatorCpuCores =
    (workerRate(from.subscribers, to.subscribers, 'cpuUserUs') +
      workerRate(from.subscribers, to.subscribers, 'cpuSystemUs') +
      workerRate(from.amqpWorkers, to.amqpWorkers, 'cpuUserUs') +
      workerRate(from.amqpWorkers, to.amqpWorkers, 'cpuSystemUs')) /
    1e6;
  const known = Object.values(serverCores).reduce((a, b) => a + b, 0) + generatorCpuCores + (to.harnessCpuSec - from.harnessCpuSec) / seconds;
  const processCores = (to.machine.processSec - from.machine.processSec) / seconds;
  const perSec = (f: (c: BridgeCounters) => number) => (from.bridge && to.bridge ? (f(to.bridge) - f(from.bridge)) / seconds : 0);
  return {
    seconds,
    serverCores,
    generatorCpuCores,
    otherCpuCores: Math.max(0, processCores - known),
    interruptCpuCores: (to.machine.interruptSec - from.machine.interruptSec) / seconds,
    processesStarted: Math.max(0, to.machine.forks - from.machine.forks - (to.ownThreads - from.ownThreads)),
    bridgeStoredPerSec: perSec((c) => c.stored),
    bridgeRepliesPerSec: perSec((c) => c.repliesRouted),
    subscriberRate: (counter) => workerRate(from.subscribers, to.subscribers, counter),
    amqpRate: (counter) => workerRate(from.amqpWorkers, to.amqpWorkers, counter),
  };
}

/** Sessions and connections closed that no worker closed itself, over every worker. */
export function unexpectedCloses(snap: StackSnapshot): number {
  return snap.subscribers.reduce((n, s) => n + s.unexpectedCloses, 0) + snap.amqpWorkers.reduce((n, s) => n + s.unexpectedCloses, 0);
}

/** The CPU figures every RabbitMQ scenario reports, flat (results are records of numbers). */
export interface CpuFigures extends MachineFigures {
  gatewayCpuCores: number;
  bridgeCpuCores: number;
  workerCpuCores: number;
  /** The RabbitMQ server (beam.smp), all its threads. */
  rabbitmqCpuCores: number;
  redisCpuCores: number;
}

export function cpuFigures(span: StackInterval): CpuFigures {
  return {
    gatewayCpuCores: span.serverCores.gateway,
    bridgeCpuCores: span.serverCores.bridge,
    workerCpuCores: span.serverCores.worker,
    rabbitmqCpuCores: span.serverCores.rabbitmq,
    redisCpuCores: span.serverCores.redis,
    ...machineFigures(span),
  };
}
