/**
 * Opens a scenario's subscribers on a cluster: split evenly over the instances, and within
 * that over the subscriber workers, so that every worker holds sessions on every instance
 * and no worker or instance carries more than its share.
 */
import { split, type LoadWorker } from '../workerPool.ts';
import type { RunningCluster } from './clusters.ts';

const OPEN_TIMEOUT_MS = 60_000;

export interface OpenOptions {
  topic: string;
  count: number;
  /** Sessions each worker opens at once, per instance. */
  concurrency: number;
  measureLatency: boolean;
}

/** Resolves with the longest time (ms) any worker took to open its share. */
export async function openClusterSubscribers(cluster: RunningCluster, workers: readonly LoadWorker[], o: OpenOptions): Promise<number> {
  const topics = Array.from({ length: o.count }, () => o.topic);
  const opened = await Promise.all(
    split(topics, workers.length).flatMap((share, w) =>
      split(share, cluster.instances.length).map((part, i) =>
        workers[w]!.request(
          { op: 'openSubscribers', url: cluster.instances[i]!.wsUrl, dialect: cluster.dialect, topics: part, concurrency: o.concurrency, measureLatency: o.measureLatency },
          OPEN_TIMEOUT_MS,
        ),
      ),
    ),
  );
  return Math.max(...opened.map((r) => r.elapsedMs));
}
