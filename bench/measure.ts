/**
 * Snapshots of a run in progress: every worker's counters and CPU time, and the server's CPU
 * time and RSS from /proc. Rates are differences between two snapshots; each worker's over
 * its own interval, because a busy worker answers the harness late. Also how every family of
 * scenarios times its measured interval and waits for counts to settle, and a steady RSS
 * reading (the cluster and RabbitMQ scenarios take their own snapshots, built on these).
 */
import { nowMs, sleep } from './clock.ts';
import { cpuSeconds, machineCpu, rssBytes, type MachineCpu } from './procStats.ts';
import type { RunningServer } from './servers.ts';
import type { LoadWorker } from './workerPool.ts';
import type { WorkerStats } from './workerProtocol.ts';

const STATS_TIMEOUT_MS = 10_000;

export interface Snapshot {
  serverAtMs: number;
  serverCpuSec: number;
  serverRssBytes: number;
  machine: MachineCpu;
  /** In the order of the workers passed to snapshot(). */
  workers: WorkerStats[];
}

type WorkerCounter = Exclude<keyof WorkerStats, 'atMs'>;

/** Every worker's counters, in the order given. */
export function stats(workers: readonly LoadWorker[]): Promise<WorkerStats[]> {
  return Promise.all(workers.map((w) => w.request({ op: 'stats' }, STATS_TIMEOUT_MS)));
}

/** The numeric fields of `S`: the counters a rate can be taken of. */
export type Counter<S> = { [K in keyof S]: S[K] extends number ? K : never }[keyof S] & string;

/** Sum over workers of each one's counter increase per second, each over its own interval. */
export function workerRate<S extends { atMs: number }>(from: readonly S[], to: readonly S[], counter: Counter<S>): number {
  return to.reduce((sum, w, i) => {
    const before = from[i]!;
    return sum + ((w[counter] as number) - (before[counter] as number)) / ((w.atMs - before.atMs) / 1000);
  }, 0);
}

/** `server`: one server, or several whose CPU and RSS are summed (the idle scenario's --idle-instances). */
export async function snapshot(server: RunningServer | readonly RunningServer[], workers: readonly LoadWorker[]): Promise<Snapshot> {
  const servers: readonly RunningServer[] = Array.isArray(server) ? server : [server as RunningServer];
  for (const s of servers) s.assertAlive();
  const serverAtMs = nowMs();
  const serverCpuSec = servers.reduce((sum, s) => sum + cpuSeconds(s.pid), 0);
  const serverRssBytes = servers.reduce((sum, s) => sum + rssBytes(s.pid), 0);
  return { serverAtMs, serverCpuSec, serverRssBytes, machine: machineCpu(), workers: await stats(workers) };
}

/** A counter summed over all workers. */
export function total(snap: Snapshot, counter: WorkerCounter): number {
  return snap.workers.reduce((sum, w) => sum + w[counter], 0);
}

export interface Interval {
  seconds: number;
  /** CPU seconds per wall second: 1.0 is one core busy all the time. */
  serverCpuCores: number;
  generatorCpuCores: number;
  /** CPU taken by every other process of the machine (the harness's own share is tiny). */
  otherCpuCores: number;
  /** Kernel interrupt work charged to no process (loopback TCP for the most part). */
  interruptCpuCores: number;
  /** Processes or threads started on the machine meanwhile (see MachineCpu.forks). */
  processesStarted: number;
  /** Sum over workers of each one's counter increase per second. */
  rate(counter: WorkerCounter): number;
}

export function interval(from: Snapshot, to: Snapshot): Interval {
  const seconds = (to.serverAtMs - from.serverAtMs) / 1000;
  const rate = (counter: WorkerCounter) => workerRate(from.workers, to.workers, counter);
  const serverCpuCores = (to.serverCpuSec - from.serverCpuSec) / seconds;
  const generatorCpuCores = (rate('cpuUserUs') + rate('cpuSystemUs')) / 1e6;
  const processCores = (to.machine.processSec - from.machine.processSec) / seconds;
  return {
    seconds,
    serverCpuCores,
    generatorCpuCores,
    otherCpuCores: Math.max(0, processCores - serverCpuCores - generatorCpuCores),
    interruptCpuCores: (to.machine.interruptSec - from.machine.interruptSec) / seconds,
    processesStarted: to.machine.forks - from.machine.forks,
    rate,
  };
}

/**
 * Snapshots the start and the end of a measured interval of `seconds`, timed from when the
 * first snapshot read the servers, not from when the busy workers answered.
 */
export async function measuredInterval<S extends { serverAtMs: number }>(seconds: number, take: () => Promise<S>): Promise<{ from: S; to: S }> {
  const from = await take();
  await sleep(from.serverAtMs + seconds * 1000 - nowMs());
  const to = await take();
  return { from, to };
}

/** A worker whose sends can be marked as measured: a load worker's publisher, or an AMQP worker. */
interface MarkableSender {
  request(req: { op: 'mark'; measured: boolean }, timeoutMs: number): Promise<unknown>;
}

/** measuredInterval(), with what `sender` sends meanwhile marked as measured. */
export async function markedInterval<S extends { serverAtMs: number }>(sender: MarkableSender, seconds: number, take: () => Promise<S>): Promise<{ from: S; to: S }> {
  await sender.request({ op: 'mark', measured: true }, 10_000);
  const span = await measuredInterval(seconds, take);
  await sender.request({ op: 'mark', measured: false }, 10_000);
  return span;
}

/**
 * Polls `count` until it reaches `expected`, stops moving for `quietMs`, or `maxMs` passes.
 * Returns the last count.
 */
export async function waitForCount(count: () => Promise<number>, expected: number, quietMs: number, maxMs: number): Promise<number> {
  const deadline = nowMs() + maxMs;
  let last = -1;
  let lastChangeMs = nowMs();
  for (;;) {
    const n = await count();
    const now = nowMs();
    if (n >= expected || now >= deadline) return n;
    if (n !== last) {
      last = n;
      lastChangeMs = now;
    } else if (now - lastChangeMs >= quietMs) {
      return n;
    }
    await sleep(100);
  }
}

/** Waits (as waitForCount) until the subscribers have received `expected` messages in all. Returns the final count. */
export function drain(workers: readonly LoadWorker[], expected: number, quietMs: number, maxMs: number): Promise<number> {
  return waitForCount(async () => (await stats(workers)).reduce((sum, w) => sum + w.received, 0), expected, quietMs, maxMs);
}

/** RSS of the processes together: the median of a few readings, so that one reading mid-GC does not decide the figure. */
export async function steadyRss(pids: readonly number[]): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(pids.reduce((sum, pid) => sum + rssBytes(pid), 0));
    await sleep(200);
  }
  return readings.sort((a, b) => a - b)[2]!;
}

/**
 * Waits (at most `maxWaitMs`) until the rest of the machine uses at most `maxBusyCores`, so
 * that a run does not start while other work shares the cores. Called between runs, when
 * the harness has no children. Returns the last busy figure measured.
 */
export async function waitForQuietMachine(maxBusyCores: number, maxWaitMs: number): Promise<number> {
  const deadline = nowMs() + maxWaitMs;
  const busySec = () => {
    const cpu = machineCpu();
    return cpu.processSec + cpu.interruptSec;
  };
  for (;;) {
    const before = busySec();
    await sleep(500);
    const busyCores = (busySec() - before) / 0.5;
    if (busyCores <= maxBusyCores || nowMs() >= deadline) return busyCores;
  }
}
