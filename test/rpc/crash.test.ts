/**
 * Jobs survive the death of the gateway that accepted them: real gateway processes (killed
 * with SIGKILL by PID), a real bridge process, a worker, Redis and RabbitMQ.
 *
 * The reproduction that found the bug: a client on g1 starts two jobs; after both progress
 * frames g1 is killed; the client resumes on g2. The reply of the short job reaches g1's
 * inbox while g1 is dead but not yet reaped; the long job's reply comes after g1 was reaped.
 * Both must reach the client, once, on g2. And a job whose deadline passes after the crash
 * must still end with `timeout`, sent by the instance the session resumed on.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createWorker, type Worker } from '../../src/rpc/worker.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, tails, type BridgeProcess } from '../support/bridgeProcess.ts';
import { TestCluster } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { REDIS_URL, requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const redisPrefix = uniquePrefix('rpccrash');
const amqpPrefix = uniqueAmqpPrefix('rpccrash');
const APPS = JSON.stringify([APP_A]);
// A short instance TTL so that g1 is reaped within seconds of the kill.
const ENV = {
  APPS,
  AMQP_URL,
  AMQP_PREFIX: amqpPrefix,
  HEARTBEAT_INTERVAL_MS: '300',
  INSTANCE_TTL_MS: '1500',
  RESUME_WINDOW_MS: '60000',
  LOG_LEVEL: 'info',
};

let cluster: TestCluster;
let bridge: BridgeProcess;
let worker: Worker;
const clients: WsClient[] = [];

async function open(url: string): Promise<WsClient> {
  const c = await WsClient.open(url);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
  cluster = new TestCluster(redisPrefix, ENV);
  bridge = await spawnBridge({ REDIS_URL, REDIS_KEY_PREFIX: redisPrefix, ...ENV });
  worker = await createWorker({
    url: AMQP_URL,
    prefix: amqpPrefix,
    concurrency: 8,
    methods: {
      work: async (params, ctx) => {
        const { sleepMs } = params as { sleepMs: number };
        await ctx.progress({ started: true });
        // Deliberately deaf to the deadline: a late result must be dropped by the gateway.
        await new Promise((r) => setTimeout(r, sleepMs));
        return { slept: sleepMs };
      },
    },
  });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await worker?.stop();
  await bridge?.stop('SIGKILL');
  await cluster?.dispose();
  const broker = await TestBroker.open(amqpPrefix);
  await broker.cleanup(['work']);
});

/** Frames of one request, by type. */
function framesFor(c: WsClient, id: string): string[] {
  return c.frames.filter((f) => 'id' in f && f.id === id).map((f) => String(f.type));
}

async function reaped(id: string): Promise<void> {
  await waitFor(async () => !(await cluster.inRegistry(id)) && (await cluster.inboxEntriesAdded(id)) === null, {
    timeoutMs: 15_000,
    intervalMs: 50,
    what: `${id} to be reaped`,
  });
}

test('kill -9 of the accepting gateway: results reach the client resumed on another instance, once each', async () => {
  const [g1, g2] = await cluster.startAll(['crash-a1', 'crash-a2']);
  const c1 = await open(g1!.wsUrl(APP_A.id));
  const welcome = c1.frames[0]!;
  c1.send({ type: 'rpc', id: 'j-before', method: 'work', params: { sleepMs: 1500 }, timeoutMs: 40_000 });
  c1.send({ type: 'rpc', id: 'j-after', method: 'work', params: { sleepMs: 6000 }, timeoutMs: 40_000 });
  await c1.waitFor((f) => f.type === 'progress' && f.id === 'j-before', 10_000);
  await c1.waitFor((f) => f.type === 'progress' && f.id === 'j-after', 10_000);

  await cluster.stop('crash-a1', 'SIGKILL');
  const c2 = await open(`${g2!.wsUrl(APP_A.id)}&resume=${encodeURIComponent(String(welcome.resumeToken))}`);
  expect(c2.frames[0]).toMatchObject({ type: 'welcome', resumed: true, sessionId: welcome.sessionId, instanceId: 'crash-a2' });

  try {
    // j-before is answered while g1 is dead but not yet reaped: its reply waits in g1's inbox
    // until g2's reaper hands it over. j-after is answered after the reaping.
    const before = await c2.waitFor((f) => f.type === 'result' && f.id === 'j-before', 20_000);
    expect(before).toMatchObject({ result: { slept: 1500 } });
    const after = await c2.waitFor((f) => f.type === 'result' && f.id === 'j-after', 20_000);
    expect(after).toMatchObject({ result: { slept: 6000 } });
    await reaped('crash-a1');
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.logs()}\n${tails([{ name: 'bridge', output: bridge.output }])}`);
  }
  // A ping round trip after everything: anything still in flight for the jobs came before it.
  await c2.request({ type: 'ping' });
  expect(framesFor(c2, 'j-before').filter((t) => t === 'result' || t === 'error')).toEqual(['result']);
  expect(framesFor(c2, 'j-after').filter((t) => t === 'result' || t === 'error')).toEqual(['result']);
  await cluster.killAll();
}, 60_000);

test('after kill -9, a reply parked for a session that resumes later is delivered, and deadlines still end jobs with timeout', async () => {
  const [g1, g2] = await cluster.startAll(['crash-b1', 'crash-b2']);
  const c1 = await open(g1!.wsUrl(APP_A.id));
  const welcome = c1.frames[0]!;
  const startedAt = Date.now();
  c1.send({ type: 'rpc', id: 'quick', method: 'work', params: { sleepMs: 300 }, timeoutMs: 40_000 });
  // The worker takes 8 s; the client waits 5 s: a timeout must end this request.
  c1.send({ type: 'rpc', id: 'doomed', method: 'work', params: { sleepMs: 8000 }, timeoutMs: 5000 });
  await c1.waitFor((f) => f.type === 'progress' && f.id === 'quick', 10_000);
  await c1.waitFor((f) => f.type === 'progress' && f.id === 'doomed', 10_000);
  c1.close();
  await cluster.stop('crash-b1', 'SIGKILL');

  // The client stays away until g1 is reaped: the reaper parks `quick` for it.
  await reaped('crash-b1');
  const c2 = await open(`${g2!.wsUrl(APP_A.id)}&resume=${encodeURIComponent(String(welcome.resumeToken))}`);
  try {
    expect(c2.frames[0]).toMatchObject({ type: 'welcome', resumed: true, sessionId: welcome.sessionId });
    const quick = await c2.waitFor((f) => f.type === 'result' && f.id === 'quick', 10_000);
    expect(quick).toMatchObject({ result: { slept: 300 } });
    const doomed = await c2.waitFor((f) => f.id === 'doomed' && f.type === 'error', 15_000);
    expect(doomed).toMatchObject({ code: 'timeout' });
    // Not before its deadline (5 s after it was sent, measured from before the send).
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(5000 - 50);
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.logs()}\n${tails([{ name: 'bridge', output: bridge.output }])}`);
  }
  // The worker's late result comes after the timeout and is dropped: wait until the bridge
  // has routed it and g2 has read its inbox to the end, then a ping round trip.
  const routed = (await bridge.metrics()).get('switchyard_bridge_replies_routed_total') ?? 0;
  await waitFor(async () => ((await bridge.metrics()).get('switchyard_bridge_replies_routed_total') ?? 0) > routed, {
    timeoutMs: 10_000,
    what: 'the late result to be routed',
  });
  await waitFor(async () => {
    const backlog = await cluster.inboxBacklog('crash-b2');
    return backlog.caughtUp && backlog.pending === 0;
  }, { timeoutMs: 5000, what: 'g2 to read its inbox to the end' });
  await c2.request({ type: 'ping' });
  expect(framesFor(c2, 'doomed').filter((t) => t !== 'progress')).toEqual(['error']);
  expect(framesFor(c2, 'quick').filter((t) => t !== 'progress')).toEqual(['result']);
  await cluster.killAll();
}, 60_000);
