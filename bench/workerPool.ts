/**
 * The harness side of the load workers: spawns bench/loadWorker.ts processes with an IPC
 * channel and turns request/reply messages into typed promises with timeouts.
 */
import type { Subprocess } from 'bun';
import { stopChild, track } from './children.ts';
import type { ReplyMap, RequestFor, WorkerOp, WorkerReply } from './workerProtocol.ts';

const WORKER_PATH = new URL('./loadWorker.ts', import.meta.url).pathname;

interface Waiter {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class LoadWorker {
  private readonly waiters = new Map<number, Waiter>();
  private nextRid = 0;
  private readonly proc: Subprocess;

  constructor(readonly name: string, deadlineEpochMs: number) {
    this.proc = Bun.spawn({
      cmd: [process.execPath, WORKER_PATH, String(deadlineEpochMs)],
      stdio: ['ignore', 'inherit', 'inherit'],
      ipc: (message) => this.onReply(message as WorkerReply),
      onExit: (_proc, code, signal) => this.failAll(new Error(`${name} exited (code ${code}, signal ${signal})`)),
    });
    track(name, this.proc);
  }

  request<O extends WorkerOp>(req: RequestFor<O> & { op: O }, timeoutMs: number): Promise<ReplyMap[O]> {
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(rid);
        reject(new Error(`${this.name}: ${req.op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(rid, { resolve: resolve as (result: unknown) => void, reject, timer });
      this.proc.send({ ...req, rid });
    });
  }

  async stop(): Promise<void> {
    this.failAll(new Error(`${this.name} stopped`));
    await stopChild(this.proc, 2000);
  }

  private onReply(reply: WorkerReply): void {
    const waiter = this.waiters.get(reply.rid);
    if (!waiter) return;
    this.waiters.delete(reply.rid);
    clearTimeout(waiter.timer);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`${this.name}: ${reply.error}`));
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters.clear();
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

/** Splits `items` into `parts` nearly equal consecutive slices. */
export function split<T>(items: readonly T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, i) => items.slice(Math.floor((i * items.length) / parts), Math.floor(((i + 1) * items.length) / parts)));
}
