/**
 * The resume window with jobs running, on real RabbitMQ and Redis with two gateway instances:
 * a session that has been connected for longer than RESUME_WINDOW_MS keeps a fresh resume
 * token while its jobs run (`resumeToken` frames), so it can resume on another instance after
 * a disconnect; the same token is refused once the window after the disconnect has passed.
 * Real time, kept small (a 2 s window).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createWorker, type Worker } from '../../src/rpc/worker.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { APP_A } from '../support/gateway.ts';
import { startRpcStack, type RpcStack } from '../support/rpcStack.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const WINDOW_MS = 2000;
const amqpPrefix = uniqueAmqpPrefix('resume');
const redisPrefix = uniquePrefix('resume');
const METHODS = ['hold'];
let stack: RpcStack;
let worker: Worker;
const clients: WsClient[] = [];

async function client(instance: number, query: Record<string, string> = {}): Promise<WsClient> {
  const c = await WsClient.open(stack.gateways[instance]!.wsUrl(APP_A.id, query));
  clients.push(c);
  return c;
}

/** The newest resume token a client was given (welcome or refresh). */
function latestToken(c: WsClient): string {
  const frames = c.frames.filter((f) => f.type === 'resumeToken' || f.type === 'welcome');
  return frames.at(-1)!.resumeToken as string;
}

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
  stack = await startRpcStack({ redisPrefix, amqpPrefix, instances: 2, env: { RESUME_WINDOW_MS: String(WINDOW_MS) } });
  worker = await createWorker({
    url: AMQP_URL,
    prefix: amqpPrefix,
    concurrency: 8,
    methods: {
      // Runs until the test says so (or 20 s): job durations never depend on the machine's speed.
      hold: async (params, ctx) => {
        const { key, value } = params as { key: string; value: unknown };
        await ctx.progress('started');
        await waitFor(() => released.has(key) || ctx.signal.aborted, { timeoutMs: 20_000, intervalMs: 20, what: `release of ${key}` });
        return value;
      },
    },
  });
});

const released = new Set<string>();

afterAll(async () => {
  for (const c of clients) c.close();
  await worker?.stop();
  await stack?.stop();
  const broker = await TestBroker.open(amqpPrefix);
  await broker.cleanup(METHODS);
});

test('a session older than the window, with a job running, resumes on another instance with its latest token', async () => {
  const first = await client(0);
  const welcome = first.frames[0]!;
  const welcomedAtMs = Date.now();
  first.send({ type: 'rpc', id: 'long', method: 'hold', params: { key: 'long', value: 'kept' }, timeoutMs: 20_000 });
  await first.waitFor((f) => f.type === 'progress' && f.id === 'long');
  // Past the welcome token's expiry: only the refreshed tokens can still resume.
  await waitFor(() => Date.now() > welcomedAtMs + WINDOW_MS + 200, { what: "the welcome token's expiry" });
  await first.waitFor((f) => f.type === 'resumeToken');
  const token = latestToken(first);
  expect(token).not.toBe(welcome.resumeToken);
  first.close();
  await first.closed;

  const stale = await client(1, { resume: welcome.resumeToken as string });
  expect(stale.frames[0]).toMatchObject({ type: 'welcome', resumed: false });
  const again = await client(1, { resume: token });
  expect(again.frames[0]).toMatchObject({ type: 'welcome', sessionId: welcome.sessionId, resumed: true });
  released.add('long');
  expect(await again.waitFor((f) => f.type === 'result' && f.id === 'long', 10_000)).toMatchObject({ result: 'kept' });
});

test('the latest token is refused once RESUME_WINDOW_MS has passed since the disconnect', async () => {
  const first = await client(0);
  first.send({ type: 'rpc', id: 'gone', method: 'hold', params: { key: 'gone', value: 'lost' }, timeoutMs: 20_000 });
  await first.waitFor((f) => f.type === 'progress' && f.id === 'gone');
  await first.waitFor((f) => f.type === 'resumeToken');
  first.close();
  await first.closed;
  const token = latestToken(first);
  const closedAtMs = Date.now();
  await waitFor(() => Date.now() > closedAtMs + WINDOW_MS + 100, { what: 'the resume window to pass' });
  const again = await client(1, { resume: token });
  expect(again.frames[0]).toMatchObject({ type: 'welcome', resumed: false });
  expect(again.frames[0]!.sessionId).not.toBe(first.frames[0]!.sessionId);
  released.add('gone');
});

test('the client SDK keeps the latest token: a job outlives a reconnect of a session older than the window', async () => {
  const { SwitchyardClient } = await import('../../src/client/index.ts');
  const urls = stack.gateways.map((g) => g.wsUrl(APP_A.id).split('?')[0]!);
  const sdk = new SwitchyardClient({ urls, app: APP_A.id, minReconnectDelayMs: 10 });
  try {
    await sdk.ready();
    const openedAtMs = Date.now();
    let started = false;
    const pending = sdk.rpc('hold', { key: 'sdk', value: 'survived' }, { timeoutMs: 20_000, onProgress: () => (started = true) });
    await waitFor(() => started, { what: 'job running' });
    await waitFor(() => Date.now() > openedAtMs + WINDOW_MS + 200, { what: "the welcome token's expiry" });
    const first = sdk.instanceId;
    const gw = stack.gateways.find((g) => g.id === first)!;
    for (const s of gw.gateway.sessions) s.disconnect(4000, 'test: connection lost');
    await waitFor(() => sdk.instanceId !== null && sdk.instanceId !== first, { what: 'the SDK to resume on the other instance' });
    released.add('sdk');
    expect(await pending).toBe('survived');
  } finally {
    sdk.close();
  }
});
