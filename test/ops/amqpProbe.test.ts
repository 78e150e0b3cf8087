/**
 * The delivery probe's RabbitMQ path, on a real gateway process, a real bridge process,
 * RabbitMQ and Redis: with AMQP_URL the gateway also sends its probe as an update through
 * RabbitMQ and the bridge; while a bridge runs the probe comes back (metric healthy, a round
 * trip); with the bridge stopped it stops coming back, which /readyz reports as a warning and
 * the metric as 0, while the instance stays ready; a new bridge brings it back.
 */
import { afterAll, expect, test } from 'bun:test';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, type BridgeProcess } from '../support/bridgeProcess.ts';
import { deleteTestKeys } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { metricValue } from '../support/metrics.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { REDIS_URL, requireRedis, uniquePrefix } from '../support/redis.ts';

const AMQP_PREFIX = uniqueAmqpPrefix('amqp-probe');
const REDIS_PREFIX = uniquePrefix('amqp-probe');
const ENV = { REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX, APPS: JSON.stringify([APP_A]) };
const running: { stop(signal?: NodeJS.Signals): Promise<number> }[] = [];

afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  const broker = await TestBroker.open(AMQP_PREFIX);
  await broker.cleanup();
  await deleteTestKeys(REDIS_PREFIX);
});

async function readyz(http: string): Promise<{ status: number; warnings: string[] }> {
  const res = await fetch(`${http}/readyz`);
  return { status: res.status, warnings: ((await res.json()) as { warnings?: string[] }).warnings ?? [] };
}

test('the RabbitMQ path is probed through the bridge: healthy with a bridge, a warning (still ready) without one', async () => {
  await requireRedis();
  await requireRabbit();
  let bridge: BridgeProcess = await spawnBridge({ ...ENV, INSTANCE_ID: 'ap-bridge-1' });
  running.push(bridge);
  const gateway: GatewayProcess = await spawnGateway({ ...ENV, INSTANCE_ID: 'ap-gw', PROBE_INTERVAL_MS: '100', PROBE_TIMEOUT_MS: '1500', DRAIN_TIMEOUT_MS: '500' });
  running.push(gateway);
  const http = `http://127.0.0.1:${gateway.port}`;
  const amqpHealthy = () => metricValue(http, 'switchyard_probe_healthy{path="amqp"}');

  await waitFor(async () => (await metricValue(http, 'switchyard_probe_round_trip_seconds{path="amqp"}')) !== null && (await amqpHealthy()) === 1, {
    timeoutMs: 15_000,
    what: 'a probe back through RabbitMQ and the bridge',
  });
  expect(await readyz(http)).toEqual({ status: 200, warnings: [] });

  expect(await bridge.stop('SIGTERM')).toBe(0);
  await waitFor(async () => (await amqpHealthy()) === 0, { timeoutMs: 15_000, what: 'the RabbitMQ path reported unhealthy' });
  const withoutBridge = await readyz(http);
  expect(withoutBridge.status).toBe(200);
  expect(withoutBridge.warnings).toHaveLength(1);
  expect(withoutBridge.warnings[0]).toContain('through the amqp path');
  // The publish path is unaffected.
  expect(await metricValue(http, 'switchyard_probe_healthy{path="redis"}')).toBe(1);

  bridge = await spawnBridge({ ...ENV, INSTANCE_ID: 'ap-bridge-2' });
  running.push(bridge);
  await waitFor(async () => (await amqpHealthy()) === 1, { timeoutMs: 15_000, what: 'the RabbitMQ path healthy again' });
  expect(await readyz(http)).toEqual({ status: 200, warnings: [] });
}, 60_000);
