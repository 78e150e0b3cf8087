/**
 * The Python example worker (examples/python-worker/worker.py) against the real stack: a
 * WebSocket client sends `rpc` frames to an in-process gateway (Redis backend, real AMQP job
 * publisher); the worker, a python3 subprocess, consumes the job from RabbitMQ and replies;
 * an in-process bridge routes the replies back to the client. Also checks the worker's wire
 * format directly (reply properties, JobReplySchema, dropped malformed and expired jobs) and
 * that SIGTERM stops it cleanly with every job acknowledged.
 *
 * Runs on Debian's interpreter, /usr/bin/python3, with Debian's python3-pika, which
 * `bash scripts/services.sh` (run by `bun run test`) installs as root where it is missing.
 * Without it these tests fail, saying how to install it: they are part of the suite.
 * RabbitMQ and Redis are required as everywhere else. Names are unique per run; queues,
 * exchanges and keys are deleted afterwards, and the worker is stopped by handle.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Subprocess } from 'bun';
import * as amqp from 'amqplib';
import * as v from 'valibot';
import { JobReplySchema, type Job } from '../../src/protocol/job.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { APP_A } from '../support/gateway.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { startRpcStack, type RpcStack } from '../support/rpcStack.ts';
import { WsClient } from '../support/wsClient.ts';
import { collectLines } from '../support/lines.ts';

const WORKER_PY = new URL('../../examples/python-worker/worker.py', import.meta.url).pathname;
const METHODS = ['resize', 'fail'];

/** Debian's interpreter: python3-pika installs for it, whatever `python3` is first on PATH. */
const PYTHON = '/usr/bin/python3';

/** Null when PYTHON imports pika; otherwise what went wrong. */
function pikaProblem(): string | null {
  try {
    const r = Bun.spawnSync([PYTHON, '-c', 'import pika'], { stdout: 'pipe', stderr: 'pipe', timeout: 15_000 });
    if (r.exitCode === 0) return null;
    return r.stderr.toString().trim().split('\n').at(-1) ?? `exit ${r.exitCode}`;
  } catch (error) {
    return String(error);
  }
}

interface PythonWorker {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Lines the worker logged so far (stdout and stderr). */
  lines: string[];
  /** Signals the worker and resolves with its exit code; SIGKILLs it after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number>;
}


/** Starts the worker and waits until it consumes (its topology is declared by then). */
async function startPythonWorker(python: string, env: Record<string, string>): Promise<PythonWorker> {
  const proc = Bun.spawn([python, WORKER_PY], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const lines: string[] = [];
  const reading = Promise.all([collectLines(proc.stdout, lines), collectLines(proc.stderr, lines)]).catch(() => {});
  const worker: PythonWorker = {
    proc,
    lines,
    stop: async (signal = 'SIGTERM', graceMs = 10_000) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      try {
        await waitFor(() => proc.exitCode !== null || proc.signalCode !== null, { timeoutMs: graceMs, intervalMs: 20, what: `python worker ${proc.pid} to exit` });
      } catch {
        proc.kill('SIGKILL');
      }
      const code = await proc.exited;
      await reading;
      return code;
    },
  };
  try {
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`python worker exited with ${proc.exitCode}:\n${lines.join('\n')}`);
        return lines.some((l) => l.includes('worker ready'));
      },
      { timeoutMs: 15_000, intervalMs: 20, what: 'the python worker to consume' },
    );
  } catch (error) {
    await worker.stop('SIGKILL');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- worker log ---\n${lines.join('\n')}`);
  }
  return worker;
}

const AMQP_PREFIX = uniqueAmqpPrefix('pyworker');
const REDIS_PREFIX = uniquePrefix('pyworker');
let broker: TestBroker | null = null;
let stack: RpcStack | null = null;
let worker: PythonWorker | null = null;
const clients: WsClient[] = [];

/** A client connected to the stack's gateway, closed after the file. */
async function client(): Promise<WsClient> {
  const c = await WsClient.open(stack!.wsUrl(APP_A.id));
  clients.push(c);
  return c;
}

/** Frames about request `id` (progress, result, error), in arrival order. */
function framesFor(c: WsClient, id: string): Record<string, unknown>[] {
  return c.frames.filter((f) => f.type !== 'welcome' && 'id' in f && f.id === id);
}

/** Waits for the result or error that settles request `id`. */
function settled(c: WsClient, id: string): Promise<Record<string, unknown>> {
  return c.waitFor((f) => 'id' in f && f.id === id && (f.type === 'result' || f.type === 'error'), 15_000);
}

beforeAll(async () => {
  const problem = pikaProblem();
  if (problem) {
    throw new Error(
      `${PYTHON} cannot import pika (${problem}). Install it with \`sudo apt-get install -y python3-pika\`, ` +
        'or run `bash scripts/services.sh python` as root.',
    );
  }
  await requireRabbit();
  await requireRedis();
  broker = await TestBroker.open(AMQP_PREFIX);
  stack = await startRpcStack({ amqpPrefix: AMQP_PREFIX, redisPrefix: REDIS_PREFIX });
  worker = await startPythonWorker(PYTHON, { AMQP_URL, AMQP_PREFIX, METHODS: METHODS.join(',') });
});

afterAll(async () => {
  for (const c of clients) c.close();
  const failures: unknown[] = [];
  const attempt = async (step: () => Promise<unknown>) => {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  };
  await attempt(async () => worker?.stop('SIGKILL', 5000));
  await attempt(async () => stack?.stop());
  await attempt(async () => broker?.cleanup(METHODS));
  if (failures.length > 0) throw new AggregateError(failures, 'clean-up failed');
});

test('resize: the client gets the worker\'s progress, then its result', async () => {
  const c = await client();
  c.send({ type: 'rpc', id: '7', method: 'resize', params: { width: 800, height: 600, scale: 0.5 }, timeoutMs: 30_000 });
  expect(await settled(c, '7')).toEqual({ type: 'result', id: '7', result: { width: 400, height: 300 } });
  expect(framesFor(c, '7')).toEqual([
    { type: 'progress', id: '7', data: { stage: 'scaling', percent: 50 } },
    { type: 'result', id: '7', result: { width: 400, height: 300 } },
  ]);
});

test('fail: an exception in the handler reaches the client as job_failed with its message', async () => {
  const c = await client();
  c.send({ type: 'rpc', id: 'f1', method: 'fail', params: { message: 'disk on fire' }, timeoutMs: 30_000 });
  expect(await settled(c, 'f1')).toEqual({ type: 'error', id: 'f1', code: 'job_failed', message: 'disk on fire' });
  c.send({ type: 'rpc', id: 'f2', method: 'resize', params: { width: -1, height: 600 } });
  expect(await settled(c, 'f2')).toEqual({ type: 'error', id: 'f2', code: 'job_failed', message: 'width must be a positive number' });
  // An error message longer than JobReplySchema allows is cut, not dead-lettered by the bridge.
  c.send({ type: 'rpc', id: 'f3', method: 'fail', params: { message: 'x'.repeat(5000) } });
  const long = await settled(c, 'f3');
  expect(long).toMatchObject({ type: 'error', id: 'f3', code: 'job_failed' });
  expect(String(long.message)).toBe('x'.repeat(2000));
});

test('concurrent jobs from two clients: each request gets its own result', async () => {
  const [a, b] = [await client(), await client()];
  const sent: { c: WsClient; id: string; scale: number }[] = [];
  for (let i = 1; i <= 10; i++) {
    const c = i % 2 === 0 ? a : b;
    const id = `c${i}`;
    sent.push({ c, id, scale: i });
    c.send({ type: 'rpc', id, method: 'resize', params: { width: 10, height: 20, scale: i } });
  }
  for (const { c, id, scale } of sent) {
    expect(await settled(c, id)).toEqual({ type: 'result', id, result: { width: 10 * scale, height: 20 * scale } });
  }
});

test('wire format: malformed and expired jobs are dropped; replies follow JobReplySchema with the job\'s properties', async () => {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createConfirmChannel();
    const { queue: replyQueue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    const replies: amqp.ConsumeMessage[] = [];
    await ch.consume(replyQueue, (m) => m && replies.push(m), { noAck: true });
    const replyTo = { sessionId: 's-wire', requestId: 'r-wire', instanceId: 'i-wire' };
    const job = (jobId: string, deadlineMs: number): Job => ({
      v: 1,
      jobId,
      method: 'resize',
      params: { width: 3, height: 5, scale: 2 },
      app: APP_A.id,
      userId: null,
      deadlineMs,
      replyTo,
    });
    const publish = (body: unknown, id: string) =>
      new Promise<void>((resolve, reject) =>
        ch.publish(stack!.names.jobsExchange, 'resize', Buffer.from(JSON.stringify(body)), { persistent: true, messageId: id, correlationId: id, replyTo: replyQueue }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    // In queue order, and the worker takes one at a time: by the time the last job's result
    // arrives, the first two have been handled.
    await publish({ ...job('j-malformed', Date.now() + 60_000), v: 2 }, 'j-malformed');
    await publish(job('j-expired', Date.now() - 1), 'j-expired');
    await publish(job('j-ok', Date.now() + 60_000), 'j-ok');
    await waitFor(() => replies.some((m) => JSON.parse(m.content.toString()).kind === 'result'), { timeoutMs: 15_000, what: 'the result of j-ok' });

    const bodies = replies.map((m) => JSON.parse(m.content.toString()) as Record<string, unknown>);
    expect(bodies).toEqual([
      { v: 1, kind: 'progress', jobId: 'j-ok', replyTo, data: { stage: 'scaling', percent: 50 } },
      { v: 1, kind: 'result', jobId: 'j-ok', replyTo, result: { width: 6, height: 10 } },
    ]);
    for (const [i, m] of replies.entries()) {
      expect(v.safeParse(JobReplySchema, bodies[i]).success).toBe(true);
      expect(m.properties.correlationId).toBe('j-ok');
      expect(m.properties.deliveryMode).toBe(2);
      expect(m.properties.contentType).toBe('application/json');
    }
    expect(await broker!.queueDepth(stack!.names.jobQueue('resize'))).toBe(0);
  } finally {
    await conn.close().catch(() => {});
  }
});

// Last: stops the worker.
test('SIGTERM: the worker stops cleanly (exit 0) and left every job acknowledged', async () => {
  const code = await worker!.stop('SIGTERM');
  const log = worker!.lines.join('\n');
  expect(code, log).toBe(0);
  expect(log).toContain('SIGTERM received; stopping');
  expect(log).toMatch(/worker stopped after \d+ jobs/);
  // Unacknowledged jobs would have gone back to their queues when the worker's channel closed.
  for (const method of METHODS) expect(await broker!.queueDepth(stack!.names.jobQueue(method))).toBe(0);
});
