/**
 * The harness side of the AMQP load workers: spawns bench/amqp/amqpWorker.ts processes with
 * an IPC channel (registered with bench/children.ts, so every exit path kills them) and turns
 * request/reply messages into typed promises with timeouts. The counterpart of
 * bench/workerPool.ts for the AMQP roles.
 */
import type { Subprocess } from 'bun';
import { stopChild, track } from '../children.ts';
import type { AmqpReplyMap, AmqpRequestFor, AmqpWorkerOp, AmqpWorkerReply } from './amqpWorkerProtocol.ts';

const WORKER_PATH = new URL('./amqpWorker.ts', import.meta.url).pathname;

interface Waiter {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class AmqpLoadWorker {
  private readonly waiters = new Map<number, Waiter>();
  private nextRid = 0;
  private readonly proc: Subprocess;

  constructor(readonly name: string, deadlineEpochMs: number) {
    this.proc = Bun.spawn({
      cmd: [process.execPath, WORKER_PATH, String(deadlineEpochMs)],
      stdio: ['ignore', 'inherit', 'inherit'],
      ipc: (message) => this.onReply(message as AmqpWorkerReply),
      onExit: (_proc, code, signal) => this.failAll(new Error(`${name} exited (code ${code}, signal ${signal})`)),
    });
    track(name, this.proc);
  }

  get pid(): number {
    return this.proc.pid;
  }

  request<O extends AmqpWorkerOp>(req: AmqpRequestFor<O> & { op: O }, timeoutMs: number): Promise<AmqpReplyMap[O]> {
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

  /** Closes its connections (bounded), then stops the process. */
  async stop(): Promise<void> {
    await this.request({ op: 'close' }, 2000).catch(() => {});
    this.failAll(new Error(`${this.name} stopped`));
    await stopChild(this.proc, 2000);
  }

  private onReply(reply: AmqpWorkerReply): void {
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
