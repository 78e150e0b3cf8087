/**
 * The harness side of the load workers: bench/loadWorker.ts processes, each driven over the
 * IPC channel of core/workerIpc.ts, and the helpers the scenarios use to start them and share out
 * their sessions.
 */
import { IpcWorker } from './core/workerIpc.ts';
import type { ReplyMap, WorkerRequest } from './workerProtocol.ts';

const WORKER_PATH = new URL('./loadWorker.ts', import.meta.url).pathname;

export class LoadWorker extends IpcWorker<WorkerRequest, ReplyMap> {
  constructor(name: string, deadlineEpochMs: number) {
    super(name, WORKER_PATH, deadlineEpochMs);
  }
}

/** Runs `fn` with `count` fresh workers and stops them afterwards, whatever happens. */
export async function withWorkers<T>(prefix: string, count: number, deadlineEpochMs: number, fn: (workers: LoadWorker[]) => Promise<T>): Promise<T> {
  const workers = Array.from({ length: count }, (_, i) => new LoadWorker(`${prefix}-${i}`, deadlineEpochMs));
  try {
    return await fn(workers);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/**
 * Opens one session per topic on the server at `url`, the topics split evenly over `workers`;
 * each worker opens `concurrency` at once. With several URLs (the same server on several
 * loopback addresses), each worker's share is split over them in turn. Resolves with the
 * longest time (ms) a worker took.
 */
export async function openSubscribers(
  workers: readonly LoadWorker[],
  url: string | readonly string[],
  topics: readonly string[],
  o: { concurrency: number; measureLatency: boolean },
  timeoutMs: number,
): Promise<number> {
  const urls = typeof url === 'string' ? [url] : url;
  const opened = await Promise.all(
    split(topics, workers.length).map(async (share, i) => {
      let elapsedMs = 0;
      for (const [k, part] of split(share, urls.length).entries()) {
        const reply = await workers[i]!.request(
          { op: 'openSubscribers', url: urls[k]!, topics: part, concurrency: o.concurrency, measureLatency: o.measureLatency },
          timeoutMs,
        );
        elapsedMs += reply.elapsedMs;
      }
      return elapsedMs;
    }),
  );
  return Math.max(...opened);
}

/** Splits `items` into `parts` nearly equal consecutive slices. */
export function split<T>(items: readonly T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, i) => items.slice(Math.floor((i * items.length) / parts), Math.floor(((i + 1) * items.length) / parts)));
}
