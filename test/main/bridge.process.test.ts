/**
 * The bridge's entry point as a real process (`bun src/main/bridge.ts`):
 *
 * - stopping (SIGTERM) while Redis, RabbitMQ or both cannot be reached: exit 0 within the sum
 *   of its stop steps' bounds (docs/bridge.md);
 * - a key prefix no gateway is registered under: /readyz stays 200 and says so in
 *   `warnings`, the log warns, and both clear once a gateway registers there;
 * - BRIDGE_PORT already taken: one line on stderr, exit code 1.
 *
 * Each fault test runs its own redis-server (killed) or a loopback TCP proxy in front of the
 * broker (frozen: the connection stays open and nothing passes). afterAll kills what started.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, type BridgeProcess } from '../support/bridgeProcess.ts';
import { APP_A } from '../support/gateway.ts';
import { freePort, spawnGateway, type GatewayProcess } from '../support/process.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, startRedisServer, testClient, uniquePrefix, type RedisServer } from '../support/redis.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const APPS = JSON.stringify([APP_A]);
const AMQP_PREFIX = uniqueAmqpPrefix('bridge-process');
const REDIS_PREFIX = uniquePrefix('bridge-process');
/**
 * How long a bridge's stop may take: the sum of its steps' bounds (docs/bridge.md: 4 s),
 * plus 2 s for a loaded machine to run and reap the process.
 */
const STOP_BOUND_MS = 4000 + 2000;

const bridges: BridgeProcess[] = [];
const gateways: GatewayProcess[] = [];
const servers: RedisServer[] = [];
const proxies: TcpProxy[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
});

afterAll(async () => {
  await Promise.all([...bridges, ...gateways].map((p) => p.stop('SIGKILL')));
  for (const p of proxies) await p.close();
  for (const s of servers) await s.kill();
  for (const prefix of prefixes) {
    const broker = await TestBroker.open(prefix);
    await broker.cleanup();
  }
  const admin = testClient();
  await deleteKeysUnder(admin, REDIS_PREFIX);
  admin.disconnect();
});

async function startBridge(name: string, env: Record<string, string>): Promise<BridgeProcess> {
  const prefix = `${AMQP_PREFIX}.${name}`;
  prefixes.push(prefix);
  const bridge = await spawnBridge({ APPS, INSTANCE_ID: name, REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX: prefix, ...env });
  bridges.push(bridge);
  return bridge;
}

/** A proxy in front of the real broker, and the AMQP URL through it. */
async function brokerProxy(): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(AMQP_URL).port || 5672) });
  proxies.push(proxy);
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}

async function privateRedis(): Promise<RedisServer> {
  const server = await startRedisServer();
  servers.push(server);
  return server;
}

/** SIGTERM, then the exit code; fails (and kills the process) if it is still running after STOP_BOUND_MS. */
async function stopWithinBound(bridge: BridgeProcess): Promise<number> {
  bridge.proc.kill('SIGTERM');
  try {
    await waitFor(() => bridge.proc.exitCode !== null, { timeoutMs: STOP_BOUND_MS, intervalMs: 25, what: 'the bridge to exit after SIGTERM' });
  } catch (error) {
    bridge.proc.kill('SIGKILL');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${bridge.output.slice(-30).join('\n')}`);
  }
  return await bridge.proc.exited;
}

function unhandled(bridge: BridgeProcess): string[] {
  return bridge.output.filter((l) => l.includes('Unhandled error event'));
}

test('Redis killed: the bridge exits 0 within its stop bound', async () => {
  const redis = await privateRedis();
  const bridge = await startBridge('redis-down', { REDIS_URL: redis.url });
  await redis.kill();
  await waitFor(async () => (await bridge.readiness()).reasons.includes('redis unreachable'), { what: 'bridge /readyz: redis unreachable' });
  expect(await stopWithinBound(bridge)).toBe(0);
  expect(unhandled(bridge)).toEqual([]);
}, 30_000);

test('RabbitMQ frozen: the close is given up after 1 s and the bridge exits 0 within its stop bound', async () => {
  const { proxy, url } = await brokerProxy();
  const bridge = await startBridge('amqp-frozen', { AMQP_URL: url });
  proxy.freeze(true);
  expect(await stopWithinBound(bridge)).toBe(0);
  expect(bridge.output.some((l) => l.includes('rabbitmq did not answer the close; dropping the connection'))).toBe(true);
}, 30_000);

test('Redis killed and RabbitMQ frozen: the bridge exits 0 within its stop bound', async () => {
  const redis = await privateRedis();
  const { proxy, url } = await brokerProxy();
  const bridge = await startBridge('both-down', { REDIS_URL: redis.url, AMQP_URL: url });
  await redis.kill();
  proxy.freeze(true);
  await waitFor(async () => (await bridge.readiness()).reasons.includes('redis unreachable'), { what: 'bridge /readyz: redis unreachable' });
  expect(await stopWithinBound(bridge)).toBe(0);
  expect(unhandled(bridge)).toEqual([]);
}, 30_000);

test('no gateway under its key prefix: /readyz stays 200 with a warning, the log warns; both clear once a gateway registers', async () => {
  const prefix = uniquePrefix('bridge-lonely');
  const bridge = await startBridge('lonely', { REDIS_KEY_PREFIX: prefix, HEARTBEAT_INTERVAL_MS: '200' });
  const expected = `no gateway instance registered under key prefix ${prefix}`;
  await waitFor(async () => (await bridge.readiness()).warnings.length > 0, { what: 'a warning in /readyz' });
  expect(await bridge.readiness()).toEqual({ status: 200, reasons: [], warnings: [expected] });
  const warned = bridge.output.filter((l) => l.includes(expected)).map((l) => JSON.parse(l) as { level: string; keyPrefix: string });
  expect(warned).toHaveLength(1);
  expect(warned[0]).toMatchObject({ level: 'warn', keyPrefix: prefix });
  expect((await bridge.metrics()).get('switchyard_bridge_gateway_instances')).toBe(0);

  const gateway = await spawnGateway({ APPS, REDIS_URL, REDIS_KEY_PREFIX: prefix, INSTANCE_ID: 'lonely-gw' });
  gateways.push(gateway);
  try {
    await waitFor(async () => (await bridge.readiness()).warnings.length === 0, { what: 'the warning to clear' });
    expect(await bridge.readiness()).toEqual({ status: 200, reasons: [], warnings: [] });
    expect((await bridge.metrics()).get('switchyard_bridge_gateway_instances')).toBe(1);
    expect(bridge.output.some((l) => l.includes('gateway instances registered under the key prefix'))).toBe(true);
  } finally {
    expect(await gateway.stop('SIGTERM')).toBe(0);
    const admin = testClient();
    await deleteKeysUnder(admin, prefix);
    admin.disconnect();
  }
}, 30_000);

test('BRIDGE_PORT already taken: one line on stderr naming it, exit code 1', async () => {
  const taken = Bun.serve({ hostname: '127.0.0.1', port: freePort(), fetch: () => new Response('taken') });
  try {
    const prefix = `${AMQP_PREFIX}.port`;
    prefixes.push(prefix);
    const proc = Bun.spawn(['bun', 'src/main/bridge.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', BRIDGE_PORT: String(taken.port), REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX: prefix, APPS },
      stdout: 'ignore',
      stderr: 'pipe',
    });
    expect(await proc.exited).toBe(1);
    const stderr = (await new Response(proc.stderr).text()).trim();
    expect(stderr.split('\n')).toEqual([`switchyard bridge: cannot listen on 127.0.0.1:${taken.port} (BRIDGE_PORT): address already in use`]);
  } finally {
    taken.stop(true);
  }
}, 30_000);
