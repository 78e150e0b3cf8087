/**
 * The TypeScript worker SDK: serves job methods from RabbitMQ.
 *
 *   const worker = await createWorker({ url, methods: { resize: async (params, ctx) => … } });
 *
 * Each method gets a durable queue (of the deployment's RPC_QUEUE_TYPE) bound to the jobs exchange. Handlers run at most
 * `concurrency` at a time across all methods. A handler's return value is the result; a
 * throw becomes a `job_failed` error; `ctx.progress()` sends progress. The job is
 * acknowledged only after its reply is confirmed by the broker, so a worker that dies
 * mid-job leaves it to be redelivered to another worker. The wire format is in docs/rpc.md.
 */
import * as v from 'valibot';
import { JobSchema, type Job, type JobReply } from '../protocol/job.ts';
import { AmqpConnection, type ConfirmChannel, type ConsumeMessage } from '../amqp/connection.ts';
import { AckBatcher } from '../amqp/acks.ts';
import { amqpNames, declareJobQueue, declareJobs, DELIVERY_COUNT_HEADER, type AmqpNames, type RpcQueueType } from '../amqp/topology.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { parseJson } from '../lib/json.ts';

export interface JobContext {
  jobId: string;
  method: string;
  app: string;
  userId: string | null;
  /** Epoch ms after which nobody waits for the result. */
  deadlineMs: number;
  /** Aborted when the deadline passes. */
  signal: AbortSignal;
  /**
   * 1 on the first delivery; more when the job was redelivered after a worker failed.
   * Quorum queues count deliveries; classic queues only flag a redelivery, counted as 2.
   */
  attempt: number;
  /** Sends a progress update to the client. */
  progress(data: unknown): Promise<void>;
}

export type JobHandler = (params: unknown, ctx: JobContext) => unknown | Promise<unknown>;

export interface WorkerOptions {
  /** amqp:// URL of RabbitMQ. */
  url: string;
  /** AMQP_PREFIX of the deployment. @default 'switchyard' */
  prefix?: string;
  /** RPC_QUEUE_TYPE of the deployment: the type the job queues are declared with. @default 'classic' */
  queueType?: RpcQueueType;
  methods: Record<string, JobHandler>;
  /** Jobs run at once. @default 16 */
  concurrency?: number;
  log?: Logger;
}

export interface Worker {
  /** Jobs completed (result or error replied) by this worker. */
  readonly completed: number;
  /** Stops taking jobs; running ones are not acknowledged and go back to the queue. */
  stop(): Promise<void>;
}

export async function createWorker(options: WorkerOptions): Promise<Worker> {
  const names = amqpNames(options.prefix ?? 'switchyard', options.queueType ?? 'classic');
  const log = options.log ?? silentLogger;
  const connection = new AmqpConnection({ url: options.url, name: `worker:${Object.keys(options.methods).join(',')}` }, log);
  const state = { completed: 0 };
  const concurrency = options.concurrency ?? 16;
  // Prefetch counts per consumer (one per method; quorum queues have no channel-wide
  // prefetch), so a shared limiter keeps the whole worker at `concurrency` running handlers.
  const limiter = new Limiter(concurrency);
  connection.onSetup(async (model) => {
    const ch = await model.createConfirmChannel();
    await ch.prefetch(concurrency);
    await declareJobs(ch, names);
    const acks = new AckBatcher(ch);
    for (const [method, handler] of Object.entries(options.methods)) {
      const queue = await declareJobQueue(ch, names, method);
      await ch.consume(queue, (message) => {
        if (!message) return;
        acks.track(message);
        void limiter.run(() => runJob(ch, acks, names, message, handler, log)).then((done) => (state.completed += done ? 1 : 0));
      });
    }
  });
  await connection.start();
  return {
    get completed() {
      return state.completed;
    },
    stop: () => connection.stop(),
  };
}

async function runJob(
  ch: ConfirmChannel,
  acks: AckBatcher,
  names: AmqpNames,
  message: ConsumeMessage,
  handler: JobHandler,
  log: Logger,
): Promise<boolean> {
  const parsed = v.safeParse(JobSchema, parseJson(message.content.toString('utf8')));
  if (!parsed.success) {
    log.warn('malformed job dropped', { messageId: message.properties.messageId });
    acks.ack(message);
    return false;
  }
  const job = parsed.output;
  const replyQueue = typeof message.properties.replyTo === 'string' && message.properties.replyTo !== '' ? message.properties.replyTo : names.resultsQueue;
  const remainingMs = job.deadlineMs - Date.now();
  if (remainingMs <= 0) {
    // Nobody waits for it any more.
    acks.ack(message);
    return false;
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error('deadline passed')), remainingMs);
  // Replies are as durable as the job: persistent exactly when the job was.
  const persistent = message.properties.deliveryMode === 2;
  const reply = (body: JobReply) => send(ch, replyQueue, job, body, persistent);
  const ctx: JobContext = {
    jobId: job.jobId,
    method: job.method,
    app: job.app,
    userId: job.userId,
    deadlineMs: job.deadlineMs,
    signal: abort.signal,
    attempt: deliveryAttempt(message),
    progress: (data) => reply({ v: 1, kind: 'progress', jobId: job.jobId, replyTo: job.replyTo, data }),
  };
  const failed = (message: string): JobReply => ({ v: 1, kind: 'error', jobId: job.jobId, replyTo: job.replyTo, error: { message: message.slice(0, MAX_ERROR_MESSAGE) } });
  let body: JobReply;
  try {
    const result = await handler(job.params, ctx);
    body = { v: 1, kind: 'result', jobId: job.jobId, replyTo: job.replyTo, result: result ?? null };
    // A result that is not JSON (a BigInt, a cycle) is the handler's failure, not the broker's.
    JSON.stringify(body);
  } catch (error) {
    body = failed(error instanceof Error ? error.message : String(error));
  }
  try {
    await reply(body);
    acks.ack(message);
    return true;
  } catch (error) {
    // The reply was not confirmed (connection lost): leave the job unacknowledged.
    log.warn('job reply not confirmed; the job will be redelivered', { jobId: job.jobId, error });
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function deliveryAttempt(message: ConsumeMessage): number {
  const count = message.properties.headers?.[DELIVERY_COUNT_HEADER];
  if (count !== undefined) return Number(count) + 1;
  return message.fields.redelivered ? 2 : 1;
}

/** JobReplySchema caps error messages; a longer one would be dead-lettered instead of delivered. */
const MAX_ERROR_MESSAGE = 2000;

/** Runs at most `limit` tasks at once; the rest wait in arrival order. */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await task();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }
}

function send(ch: ConfirmChannel, queue: string, job: Job, body: JobReply, persistent: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.sendToQueue(
      queue,
      Buffer.from(JSON.stringify(body)),
      { persistent, correlationId: job.jobId, contentType: 'application/json' },
      (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
    );
  });
}
