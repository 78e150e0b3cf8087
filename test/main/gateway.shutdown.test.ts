/**
 * A gateway process told to stop (SIGTERM) while Redis or RabbitMQ cannot be reached: it
 * still tells its sessions to reconnect (4000) and exits 0 within DRAIN_TIMEOUT_MS plus the
 * bounds of the other stop steps (docs/architecture.md, "Instance lifecycle"). And when
 * Redis comes back during the stop, the instance does not register again: it retires.
 *
 * Real processes throughout: each test runs its own redis-server (killed, or frozen with
 * SIGSTOP) or puts a loopback TCP proxy between the gateway and its service (refusing, or
 * frozen: connections stay open and nothing passes). afterAll kills what was started.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Redis } from 'ioredis';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, uniqueAmqpPrefix } from '../support/amqp.ts';
import { APP_A } from '../support/gateway.ts';
import { readiness } from '../support/gatewayProbe.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { deleteKeysUnder, keysUnder, REDIS_URL, requireRedis, startRedisServer, testClient, uniquePrefix, type RedisServer } from '../support/redis.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.ts';
import { WsClient } from '../support/wsClient.ts';

const APPS = JSON.stringify([APP_A]);
const PREFIX = uniquePrefix('gateway-shutdown');
const keys = new Keys(PREFIX);
const DRAIN_TIMEOUT_MS = 1000;
/**
 * How long a stop may take past DRAIN_TIMEOUT_MS: the sum of the other steps' bounds
 * (docs/architecture.md: 8.5 s), plus 2 s for a loaded machine to run and reap the process.
 * Without the bounds the stop never ended.
 */
const STOP_BOUND_MS = DRAIN_TIMEOUT_MS + 8500 + 2000;

const gateways: GatewayProcess[] = [];
const servers: RedisServer[] = [];
const proxies: TcpProxy[] = [];
const clients: WsClient[] = [];
const admins: Redis[] = [];

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(gateways.map((g) => g.stop('SIGKILL')));
  for (const p of proxies) await p.close();
  // SIGKILL ends a stopped (SIGSTOP) server too.
  for (const s of servers) await s.kill();
  for (const a of admins) a.disconnect();
  const shared = testClient();
  await deleteKeysUnder(shared, PREFIX);
  shared.disconnect();
});

async function startGateway(id: string, env: Record<string, string>): Promise<GatewayProcess> {
  const gateway = await spawnGateway({
    APPS,
    INSTANCE_ID: id,
    REDIS_KEY_PREFIX: PREFIX,
    DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
    HEARTBEAT_INTERVAL_MS: '200',
    ...env,
  });
  gateways.push(gateway);
  return gateway;
}

async function privateRedis(): Promise<RedisServer> {
  const server = await startRedisServer();
  servers.push(server);
  return server;
}

function admin(url: string): Redis {
  const client = testClient(url);
  admins.push(client);
  return client;
}

/** A subscribed session: the instance holds a route for `topic`. */
async function subscriber(gateway: GatewayProcess, topic: string): Promise<WsClient> {
  const client = await WsClient.open(`ws://127.0.0.1:${gateway.port}/ws?app=${APP_A.id}`);
  clients.push(client);
  expect((await client.request({ type: 'subscribe', topics: [topic] })).type).toBe('ack');
  return client;
}

function logs(gateway: GatewayProcess): string {
  return gateway.output.slice(-40).join('\n');
}

/** The gateway's JSON log lines. */
function records(gateway: GatewayProcess): Record<string, unknown>[] {
  return gateway.output.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Steps the gateway logged as timed out, in order. */
function timedOutSteps(gateway: GatewayProcess): unknown[] {
  return records(gateway)
    .filter((r) => r.msg === 'stop step timed out; going on')
    .map((r) => r.step);
}

async function waitUnready(gateway: GatewayProcess, reason: string): Promise<void> {
  await waitFor(async () => (await readiness(gateway.port)).reasons.some((r) => r.includes(reason)), {
    timeoutMs: 10_000,
    intervalMs: 25,
    what: `gateway /readyz to say "${reason}"`,
  });
}

/** SIGTERM, then the exit code; fails (and kills the process) if it is still running after STOP_BOUND_MS. */
async function stopWithinBound(gateway: GatewayProcess): Promise<{ code: number; stderr: string }> {
  gateway.proc.kill('SIGTERM');
  try {
    await waitFor(() => gateway.proc.exitCode !== null, { timeoutMs: STOP_BOUND_MS, intervalMs: 25, what: 'the gateway to exit after SIGTERM' });
  } catch (error) {
    gateway.proc.kill('SIGKILL');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs(gateway)}`);
  }
  return { code: await gateway.proc.exited, stderr: await new Response(gateway.proc.stderr).text() };
}

test('Redis killed: sessions get 4000, the retire step times out, the process exits 0 in bounded time', async () => {
  const redis = await privateRedis();
  const gateway = await startGateway('sd-killed', { REDIS_URL: redis.url });
  const client = await subscriber(gateway, 'news');
  await redis.kill();
  await waitUnready(gateway, 'redis backend unreachable');

  const { code, stderr } = await stopWithinBound(gateway);
  expect((await client.closed).code).toBe(4000);
  expect(code).toBe(0);
  expect(timedOutSteps(gateway)).toEqual(['retire']);
  // The inbox reader's connection has an error listener: ioredis reports nothing on its own.
  expect(stderr).not.toContain('Unhandled error event');
}, 30_000);

test('Redis frozen (SIGSTOP: connections open, no answers): the process exits 0 in bounded time', async () => {
  const redis = await privateRedis();
  const gateway = await startGateway('sd-frozen', { REDIS_URL: redis.url });
  const client = await subscriber(gateway, 'news');
  redis.proc.kill('SIGSTOP');

  const { code } = await stopWithinBound(gateway);
  expect((await client.closed).code).toBe(4000);
  expect(code).toBe(0);
  // Nothing answers: the retire waits out its bound (QUIT does too, inside the redis step's).
  expect(timedOutSteps(gateway)).toEqual(['retire']);
}, 30_000);

test('Redis comes back during the stop: the instance retires and does not register again', async () => {
  const redis = await privateRedis();
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
  proxies.push(proxy);
  const id = 'sd-back';
  // No heartbeat falls due during the test: any registry write seen after the cut was issued
  // after the stop began (one due before the cut would wait in the offline queue, legitimately).
  const gateway = await startGateway(id, { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, HEARTBEAT_INTERVAL_MS: '60000', INSTANCE_TTL_MS: '120000' });
  const client = await subscriber(gateway, 'news');
  const direct = admin(redis.url);
  expect(await direct.zscore(keys.alive, id)).not.toBeNull();
  expect(await direct.exists(keys.inbox(id))).toBe(1);

  // Every command Redis runs from here on, in order (MONITOR, on a connection that bypasses the proxy).
  const executed: string[][] = [];
  const monitor = await admin(redis.url).monitor();
  admins.push(monitor);
  monitor.on('monitor', (_time: string, args: string[]) => executed.push(args));

  proxy.refuse(true);
  proxy.cutAll();
  await waitUnready(gateway, 'redis backend unreachable');
  gateway.proc.kill('SIGTERM');
  expect((await client.closed).code).toBe(4000);
  // Redis is reachable again while the instance is stopping (its retire waits for it).
  proxy.refuse(false);
  await waitFor(() => gateway.proc.exitCode !== null, { timeoutMs: STOP_BOUND_MS, intervalMs: 25, what: 'the gateway to exit' }).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${logs(gateway)}`);
  });
  expect(await gateway.proc.exited).toBe(0);
  const lines = records(gateway);
  const restoredAt = lines.findIndex((r) => r.msg === 'redis connection restored');
  const retiredAt = lines.findIndex((r) => r.msg === 'stopped' && r.step === 'retire');
  expect({ restoredAt: restoredAt >= 0, retiredAt: retiredAt >= 0 }).toEqual({ restoredAt: true, retiredAt: true });

  // Nothing of the instance is left: no registry entry, inbox, route index or route set membership.
  expect(await direct.zscore(keys.alive, id)).toBeNull();
  expect(await direct.hexists(keys.info, id)).toBe(0);
  const own = (await keysUnder(direct, PREFIX)).filter((k) => k.includes(`{i:${id}}`));
  expect(own).toEqual([]);
  expect(await direct.sismember(keys.routes(APP_A.id, 'news'), id)).toBe(0);

  // Once Redis was back, the stopping instance removed its registry entry and wrote nothing
  // to it (a heartbeat on reconnect would have: it re-registers), nor created its inbox again.
  const command = (args: string[]) => args[0]!.toLowerCase();
  expect(executed.some((args) => command(args) === 'zrem' && args[1] === keys.alive)).toBe(true);
  expect(executed.filter((args) => ['zadd', 'hset'].includes(command(args)) && (args[1] === keys.alive || args[1] === keys.info))).toEqual([]);
  expect(executed.filter((args) => command(args) === 'xgroup')).toEqual([]);
}, 30_000);

test('RabbitMQ frozen (AMQP_URL through a stalled connection): the close is given up, the instance still retires, exit 0', async () => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(AMQP_URL).port || 5672) });
  proxies.push(proxy);
  const viaProxy = new URL(AMQP_URL);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const id = 'sd-amqp';
  const gateway = await startGateway(id, { REDIS_URL, AMQP_URL: viaProxy.toString(), AMQP_PREFIX: uniqueAmqpPrefix('gateway-shutdown') });
  await waitFor(() => gateway.output.some((l) => l.includes('"amqp connected"')), { what: 'the gateway to connect to RabbitMQ' });
  const client = await subscriber(gateway, 'news');
  proxy.freeze(true);

  const { code } = await stopWithinBound(gateway);
  expect((await client.closed).code).toBe(4000);
  expect(code).toBe(0);
  // The broker never answers the close: the connection waits 1 s, then drops its socket.
  expect(gateway.output.some((l) => l.includes('rabbitmq did not answer the close; dropping the connection'))).toBe(true);
  expect(timedOutSteps(gateway)).toEqual([]);
  const shared = admin(REDIS_URL);
  expect(await shared.zscore(keys.alive, id)).toBeNull();
  expect(await shared.exists(keys.inbox(id))).toBe(0);
}, 30_000);
