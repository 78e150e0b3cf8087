/**
 * Jobs over WebSocket end to end on real RabbitMQ and Redis: gateway -> jobs exchange ->
 * workers -> results queue -> bridge -> the inbox of the instance that owns the session.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createWorker, type Worker } from '../../src/rpc/worker.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { APP_A } from '../support/gateway.ts';
import { startRpcStack, type RpcStack } from '../support/rpcStack.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';
import { collectLines } from '../support/lines.ts';
import { parseMetrics } from '../support/bridgeProcess.ts';

const amqpPrefix = uniqueAmqpPrefix('rpc');
const redisPrefix = uniquePrefix('rpc');
const METHODS = ['echo', 'sleep', 'fail', 'slow', 'wait', 'longError', 'bigint', 'slowA', 'slowB'];
let stack: RpcStack;
let worker: Worker;
const clients: WsClient[] = [];

async function client(instance = 0, query: Record<string, string> = {}): Promise<WsClient> {
  const c = await WsClient.open(stack.gateways[instance]!.wsUrl(APP_A.id, query));
  clients.push(c);
  return c;
}

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
  stack = await startRpcStack({ redisPrefix, amqpPrefix, instances: 2 });
  worker = await createWorker({
    url: AMQP_URL,
    prefix: amqpPrefix,
    concurrency: 64,
    methods: {
      echo: async (params, ctx) => {
        await ctx.progress({ stage: 'started' });
        return { echoed: params, user: ctx.userId, app: ctx.app };
      },
      sleep: async (params) => {
        const { ms, value } = params as { ms: number; value: number };
        await new Promise((r) => setTimeout(r, ms));
        return value;
      },
      fail: () => {
        throw new Error('thumbnail service is down');
      },
      wait: async (params, ctx) => {
        const { ms, value } = params as { ms: number; value: unknown };
        await ctx.progress('started');
        await new Promise((r) => setTimeout(r, ms));
        return value;
      },
    },
  });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await worker?.stop();
  await stack?.stop();
  const broker = await TestBroker.open(amqpPrefix);
  await broker.cleanup(METHODS);
});

test('a job round trip: progress, then the result, for the request that asked', async () => {
  const c = await client();
  c.send({ type: 'rpc', id: 'j1', method: 'echo', params: { w: 100 } });
  const result = await c.waitFor((f) => f.type === 'result' && f.id === 'j1');
  expect(result.result).toEqual({ echoed: { w: 100 }, user: null, app: APP_A.id });
  const progress = c.frames.find((f) => f.type === 'progress' && f.id === 'j1');
  expect(progress).toMatchObject({ data: { stage: 'started' } });
  expect(c.frames.indexOf(progress!)).toBeLessThan(c.frames.indexOf(result));
});

test('100 concurrent jobs with random durations: every result reaches its own request', async () => {
  const c = await client();
  const expected = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    const id = `c${i}`;
    expected.set(id, i * 7);
    c.send({ type: 'rpc', id, method: 'sleep', params: { ms: Math.floor(Math.random() * 200), value: i * 7 } });
  }
  await waitFor(() => c.frames.filter((f) => f.type === 'result').length === 100, { timeoutMs: 15_000, what: '100 results' });
  const results = c.frames.filter((f) => f.type === 'result');
  for (const r of results) expect(r.result).toBe(expected.get(r.id as string)!);
  expect(new Set(results.map((r) => r.id)).size).toBe(100);
  // They did not come back in the order they were sent.
  expect(results.map((r) => r.id)).not.toEqual([...expected.keys()]);
});

test('an unknown method is an error, not a hang', async () => {
  const c = await client();
  const reply = await c.request({ type: 'rpc', method: 'no-such-method', params: {} });
  expect(reply).toMatchObject({ type: 'error', code: 'no_such_method' });
});

test('a failing job is a job_failed error with the worker message', async () => {
  const c = await client();
  const reply = await c.request({ type: 'rpc', method: 'fail' });
  expect(reply).toMatchObject({ type: 'error', code: 'job_failed', message: 'thumbnail service is down' });
});

test('a job past its timeout is a timeout error, and its late result is dropped', async () => {
  const c = await client();
  const reply = await c.request({ type: 'rpc', method: 'sleep', params: { ms: 300, value: 1 }, timeoutMs: 50 });
  expect(reply).toMatchObject({ type: 'error', code: 'timeout' });
  // A later job on the same connection comes back; the late one never does.
  const after = await c.request({ type: 'rpc', method: 'sleep', params: { ms: 400, value: 2 } });
  expect(after).toMatchObject({ type: 'result', result: 2 });
  expect(c.frames.filter((f) => f.type === 'result' && f.id === reply.id)).toEqual([]);
});

test('job durations are recorded by outcome: result, job_failed, timeout', async () => {
  const metrics = stack.gateways[0]!.gateway.metrics;
  const counts = async () => {
    const m = parseMetrics(await metrics.render());
    const count = (outcome: string) => m.get(`switchyard_job_duration_seconds_count{outcome="${outcome}"}`) ?? 0;
    return { result: count('result'), job_failed: count('job_failed'), timeout: count('timeout') };
  };
  const before = await counts();
  const c = await client();
  expect(await c.request({ type: 'rpc', method: 'sleep', params: { ms: 1, value: 1 } })).toMatchObject({ type: 'result' });
  expect(await c.request({ type: 'rpc', method: 'fail' })).toMatchObject({ type: 'error', code: 'job_failed' });
  expect(await c.request({ type: 'rpc', method: 'sleep', params: { ms: 300, value: 1 }, timeoutMs: 50 })).toMatchObject({ type: 'error', code: 'timeout' });
  expect(await counts()).toEqual({ result: before.result + 1, job_failed: before.job_failed + 1, timeout: before.timeout + 1 });
});

test('bad rpc frames get their documented errors', async () => {
  const c = await client();
  expect(await c.request({ type: 'rpc', method: 'bad method!' })).toMatchObject({ type: 'error', code: 'invalid_frame' });
  expect(await c.request({ type: 'rpc', method: 'echo', timeoutMs: -5 })).toMatchObject({ type: 'error', code: 'invalid_frame' });
  c.send({ type: 'rpc', id: 'same', method: 'sleep', params: { ms: 200, value: 1 } });
  c.send({ type: 'rpc', id: 'same', method: 'sleep', params: { ms: 1, value: 2 } });
  expect(await c.waitFor((f) => f.type === 'error' && f.id === 'same')).toMatchObject({ code: 'invalid_frame' });
  expect(await c.waitFor((f) => f.type === 'result' && f.id === 'same')).toMatchObject({ result: 1 });
});

test('a client that reconnects to another instance and resumes gets the results of its jobs', async () => {
  const first = await client(0);
  const welcome = first.frames[0]!;
  const token = welcome.resumeToken as string;
  expect(typeof token).toBe('string');
  first.send({ type: 'rpc', id: 'long', method: 'sleep', params: { ms: 600, value: 42 } });
  // The job is accepted once it is in flight; then the connection drops.
  first.close();
  await first.closed;
  const again = await client(1, { resume: token });
  expect(again.frames[0]).toMatchObject({ type: 'welcome', sessionId: welcome.sessionId, resumed: true, instanceId: stack.gateways[1]!.id });
  const result = await again.waitFor((f) => f.type === 'result' && f.id === 'long', 10_000);
  expect(result.result).toBe(42);
});

test('a result that arrives while the client is away is parked and delivered on resume', async () => {
  const first = await client(0);
  const token = first.frames[0]!.resumeToken as string;
  first.send({ type: 'rpc', id: 'parked', method: 'sleep', params: { ms: 100, value: 7 } });
  first.close();
  await first.closed;
  // Wait until the reply has been routed (and parked, since nobody is connected).
  const routed = () => stack.bridge.metrics.value(stack.bridge.metrics.bridgeRepliesRouted);
  const before = await routed();
  await waitFor(async () => (await routed()) > before, { what: 'reply routed', timeoutMs: 5000 });
  const again = await client(0, { resume: token });
  expect(again.frames[0]).toMatchObject({ resumed: true });
  expect(await again.waitFor((f) => f.type === 'result' && f.id === 'parked')).toMatchObject({ result: 7 });
});

test('a forged or foreign resume token starts a fresh session', async () => {
  const c = await client(0, { resume: 'someone-else.session:forged' });
  expect(c.frames[0]).toMatchObject({ type: 'welcome', resumed: false });
  expect(c.frames[0]!.sessionId).not.toBe('someone-else.session');
});

test('a worker that dies mid-job: the job is redelivered to another worker', async () => {
  const proc = Bun.spawn(['bun', new URL('./fixtures/slowWorker.ts', import.meta.url).pathname], {
    env: { ...process.env, AMQP_URL, AMQP_PREFIX: amqpPrefix },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const lines: string[] = [];
  void collectLines(proc.stdout, lines);
  let rescuer: Worker | null = null;
  try {
    await waitFor(() => lines.includes('ready'), { what: 'crashing worker ready', timeoutMs: 10_000 });
    const c = await client();
    c.send({ type: 'rpc', id: 'crash', method: 'slow', params: {}, timeoutMs: 20_000 });
    await waitFor(() => lines.some((l) => l.startsWith('started ')), { what: 'job started on the doomed worker' });
    // A second worker for the same method, then the first one dies without acking.
    rescuer = await createWorker({ url: AMQP_URL, prefix: amqpPrefix, methods: { slow: (_p, ctx) => ({ rescued: true, attempt: ctx.attempt }) } });
    proc.kill('SIGKILL');
    await proc.exited;
    const result = await c.waitFor((f) => f.type === 'result' && f.id === 'crash', 15_000);
    expect(result.result).toEqual({ rescued: true, attempt: 2 });
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await rescuer?.stop();
  }
});

test('the client SDK: rpc with progress, and a job that outlives a reconnect to another instance', async () => {
  const { SwitchyardClient } = await import('../../src/client/index.ts');
  const urls = stack.gateways.map((g) => g.wsUrl(APP_A.id).split('?')[0]!);
  const sdk = new SwitchyardClient({ urls, app: APP_A.id, minReconnectDelayMs: 10 });
  await sdk.ready();
  const progress: unknown[] = [];
  expect(await sdk.rpc('echo', { n: 1 }, { onProgress: (d) => progress.push(d) })).toEqual({ echoed: { n: 1 }, user: null, app: APP_A.id });
  expect(progress).toEqual([{ stage: 'started' }]);

  const first = sdk.instanceId;
  let started = false;
  const pending = sdk.rpc('wait', { ms: 500, value: 'survived' }, { onProgress: () => (started = true) });
  // Once the worker runs it (a frame sent on a dying connection could be lost in flight)...
  await waitFor(() => started, { what: 'job running' });
  // Drop the connection the way a network would: the SDK reconnects to the other URL and resumes.
  const gw = stack.gateways.find((g) => g.id === first)!;
  for (const s of gw.gateway.sessions) s.disconnect(4000, 'test: connection lost');
  expect(await pending).toBe('survived');
  expect(sdk.instanceId).not.toBe(first);
  await expect(sdk.rpc('no-such-method')).rejects.toMatchObject({ code: 'no_such_method' });
  sdk.close();
});

test('worker SDK: long error messages are cut to fit, unserialisable results become errors, concurrency is per worker', async () => {
  let running = 0;
  let peak = 0;
  const slowly = async () => {
    running += 1;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 100));
    running -= 1;
    return 'done';
  };
  const strict = await createWorker({
    url: AMQP_URL,
    prefix: amqpPrefix,
    concurrency: 1,
    methods: {
      longError: () => {
        throw new Error('x'.repeat(5000));
      },
      bigint: () => 10n,
      slowA: slowly,
      slowB: slowly,
    },
  });
  try {
    const c = await client();
    const long = await c.request({ type: 'rpc', method: 'longError' });
    expect(long).toMatchObject({ type: 'error', code: 'job_failed' });
    expect((long.message as string).length).toBe(2000);
    expect(await c.request({ type: 'rpc', method: 'bigint' })).toMatchObject({ type: 'error', code: 'job_failed' });
    // The method's queue is not jammed: the next job of the same method is answered too.
    expect(await c.request({ type: 'rpc', method: 'bigint' })).toMatchObject({ type: 'error', code: 'job_failed' });
    c.send({ type: 'rpc', id: 'a', method: 'slowA' });
    c.send({ type: 'rpc', id: 'b', method: 'slowB' });
    await c.waitFor((f) => f.type === 'result' && f.id === 'a');
    await c.waitFor((f) => f.type === 'result' && f.id === 'b');
    expect(peak).toBe(1);
  } finally {
    await strict.stop();
  }
});
