/**
 * The messaging core of every load-worker process the harness spawns, whatever the worker's
 * role (bench/loadWorker.ts, bench/amqp/amqpWorker.ts): the request/reply channel, and the
 * requests every worker answers alike. The harness half spawns the worker with an IPC
 * channel (registered with bench/children.ts, so every exit path kills it) and turns replies
 * into typed promises with timeouts; the worker half safeParses each request and answers it
 * with a result or an error. Each worker's protocol file adds its own requests to the common
 * ones (workerRequestSchema) and says what each reply holds.
 */
import type { Subprocess } from 'bun';
import * as v from 'valibot';
import { stopChild, track } from '../children.ts';
import { nowMs } from '../clock.ts';
import { Histogram } from '../histogram.ts';

/** Every request carries `rid`, which its reply repeats; `op` says what is asked. */
export interface IpcRequest {
  rid: number;
  op: string;
}

/** A schema of requests: one of `requests`, told apart by `op`, with the `rid` the channel adds. */
function ipcRequestSchema<const T extends v.VariantOptions<'op'>>(requests: T) {
  return v.intersect([v.object({ rid: v.number() }), v.variant('op', requests)]);
}

/** A request as the harness writes it: the channel adds `rid`. */
export type IpcRequestFor<Request extends IpcRequest, O extends Request['op']> = Omit<Extract<Request, { op: O }>, 'rid'>;

/** Marks what the worker sends from now on as measured (or not); latency is recorded only for those. */
export const MarkSchema = v.object({ op: v.literal('mark'), measured: v.boolean() });

/** The worker's counters since it started (see WorkerStatsBase); the harness takes differences between snapshots. */
export const StatsSchema = v.object({ op: v.literal('stats') });

/** The latency histogram recorded so far, as [microseconds, count] pairs; recording starts afresh. */
export const LatencySchema = v.object({ op: v.literal('latency') });

/** Stops sending; waits (at most `waitMs`) for what is still outstanding. Connections stay open. */
export const StopSchema = v.object({ op: v.literal('stop'), waitMs: v.pipe(v.number(), v.minValue(0)) });

/** The schema of a worker's requests: the common ones, and `own`. */
export function workerRequestSchema<const T extends v.VariantOptions<'op'>>(own: T) {
  return ipcRequestSchema([MarkSchema, StatsSchema, LatencySchema, StopSchema, ...own]);
}

/** What every worker's stats hold, besides the counters of its role. */
export interface WorkerStatsBase {
  /** When the worker read its counters (bench/clock.ts), so that rates use its own interval. */
  atMs: number;
  /** Sessions or connections closed that the worker did not close itself. */
  unexpectedCloses: number;
  /** process.cpuUsage() of the worker, in microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
}

/** The clock and CPU fields of WorkerStatsBase, read now. */
export function processStats(): Omit<WorkerStatsBase, 'unexpectedCloses'> {
  const cpu = process.cpuUsage();
  return { atMs: nowMs(), cpuUserUs: cpu.user, cpuSystemUs: cpu.system };
}

/** The replies to the common requests; `Stopped` is what `stop` reports of the worker's role. */
export interface CommonReplies<Stats extends WorkerStatsBase, Stopped extends { outstanding: number }> {
  mark: Record<string, never>;
  stats: Stats;
  latency: { buckets: [number, number][] };
  stop: Stopped;
}

/** The answer to request `rid`: the result of its `op` (see the protocol's reply map), or why it failed. */
export type IpcReply<Replies> = { rid: number; ok: true; result: Replies[keyof Replies] } | { rid: number; ok: false; error: string };

/** Any worker, as far as its latency histogram goes. */
export interface LatencySource {
  request(req: { op: 'latency' }, timeoutMs: number): Promise<{ buckets: [number, number][] }>;
}

/** The latency histograms of `workers` (each then starts afresh), added together. */
export async function collectLatency(workers: readonly LatencySource[]): Promise<Histogram> {
  const histogram = new Histogram();
  for (const worker of workers) histogram.add((await worker.request({ op: 'latency' }, 30_000)).buckets);
  return histogram;
}

interface Waiter {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The harness's handle on one worker process. `Replies` maps each `op` to its result. */
export class IpcWorker<Request extends IpcRequest, Replies extends Record<Request['op'], unknown>> {
  private readonly waiters = new Map<number, Waiter>();
  private nextRid = 0;
  private readonly proc: Subprocess;

  /** The worker exits by itself at `deadlineEpochMs` (its argv[2]), or as soon as the harness goes away. */
  constructor(readonly name: string, workerPath: string, deadlineEpochMs: number) {
    this.proc = Bun.spawn({
      cmd: [process.execPath, workerPath, String(deadlineEpochMs)],
      stdio: ['ignore', 'inherit', 'inherit'],
      ipc: (message) => this.onReply(message as IpcReply<Replies>),
      onExit: (_proc, code, signal) => this.failAll(new Error(`${name} exited (code ${code}, signal ${signal})`)),
    });
    track(name, this.proc);
  }

  get pid(): number {
    return this.proc.pid;
  }

  request<O extends Request['op']>(req: IpcRequestFor<Request, O> & { op: O }, timeoutMs: number): Promise<Replies[O]> {
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

  private onReply(reply: IpcReply<Replies>): void {
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

/**
 * The worker's half, called once at the end of a worker's module: answers every request that
 * `schema` accepts with what `handle` resolves to (or its error), and every other message with
 * a bad-request error. The worker exits when the harness goes away, or at the wall-clock
 * deadline in argv[2] (epoch ms), so that it can never outlive a run.
 */
export function serveHarness<S extends v.GenericSchema<unknown, { rid: number }>>(schema: S, handle: (req: v.InferOutput<S>) => Promise<unknown>): void {
  const reply = (message: IpcReply<Record<string, unknown>>): void => {
    process.send?.(message);
  };
  process.on('message', (raw: unknown) => {
    const parsed = v.safeParse(schema, raw);
    if (!parsed.success) {
      const rid = (raw as { rid?: unknown } | null)?.rid;
      reply({ rid: typeof rid === 'number' ? rid : -1, ok: false, error: `bad request: ${parsed.issues[0].message}` });
      return;
    }
    const req = parsed.output;
    handle(req).then(
      (result) => reply({ rid: req.rid, ok: true, result }),
      (error: unknown) => reply({ rid: req.rid, ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  });

  process.on('disconnect', () => process.exit(0));
  const deadlineMs = Number(process.argv[2]);
  if (Number.isFinite(deadlineMs)) setTimeout(() => process.exit(3), Math.max(0, deadlineMs - Date.now()));
}
