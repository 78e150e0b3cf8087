/**
 * Snapshots of a run in progress: every worker's counters and CPU time, and the server's CPU
 * time and RSS from /proc. Rates are differences between two snapshots; each worker's over
 * its own interval, because a busy worker answers the harness late.
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

type Counter = Exclude<keyof WorkerStats, 'atMs'>;

/** Every worker's counters, in the order given. */
export function stats(workers: readonly LoadWorker[]): Promise<WorkerStats[]> {
  return Promise.all(workers.map((w) => w.request({ op: 'stats' }, STATS_TIMEOUT_MS)));
}

export async function snapshot(server: RunningServer, workers: readonly LoadWorker[]): Promise<Snapshot> {
  server.assertAlive();
  const serverAtMs = nowMs();
  const serverCpuSec = cpuSeconds(server.pid);
  const serverRssBytes = rssBytes(server.pid);
  return { serverAtMs, serverCpuSec, serverRssBytes, machine: machineCpu(), workers: await stats(workers) };
}

/** A counter summed over all workers. */
export function total(snap: Snapshot, counter: Counter): number {
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
  rate(counter: Counter): number;
}

export function interval(from: Snapshot, to: Snapshot): Interval {
  const seconds = (to.serverAtMs - from.serverAtMs) / 1000;
  const rate = (counter: Counter) =>
    to.workers.reduce((sum, w, i) => {
      const before = from.workers[i]!;
      return sum + (w[counter] - before[counter]) / ((w.atMs - before.atMs) / 1000);
    }, 0);
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
 * Waits until the subscribers have received `expected` messages in all, or until the count
 * stops moving for `quietMs`, or `maxMs` passes. Returns the final count.
 */
export async function drain(workers: readonly LoadWorker[], expected: number, quietMs: number, maxMs: number): Promise<number> {
  const deadline = nowMs() + maxMs;
  let last = -1;
  let lastChangeMs = nowMs();
  for (;;) {
    const received = (await stats(workers)).reduce((sum, w) => sum + w.received, 0);
    const now = nowMs();
    if (received >= expected || now >= deadline) return received;
    if (received !== last) {
      last = received;
      lastChangeMs = now;
    } else if (now - lastChangeMs >= quietMs) {
      return received;
    }
    await sleep(100);
  }
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
