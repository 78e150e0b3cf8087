/**
 * Reconnect counters on a real gateway process whose Redis and RabbitMQ connections go
 * through TCP proxies: cutting every proxied connection makes both clients reconnect, and
 * /metrics counts each reconnect (not the first connect).
 */
import { afterAll, expect, test } from 'bun:test';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { deleteTestKeys } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { metricValue } from '../support/metrics.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.ts';

const AMQP_PREFIX = uniqueAmqpPrefix('reconnects');
const REDIS_PREFIX = uniquePrefix('reconnects');
const proxies: TcpProxy[] = [];
let gateway: GatewayProcess | null = null;

afterAll(async () => {
  await gateway?.stop('SIGKILL');
  for (const p of proxies) await p.close();
  const broker = await TestBroker.open(AMQP_PREFIX);
  await broker.cleanup();
  await deleteTestKeys(REDIS_PREFIX);
});

test('cut Redis and RabbitMQ connections are counted as reconnects once they are back', async () => {
  await requireRedis();
  await requireRabbit();
  const redisProxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
  const amqpProxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(AMQP_URL).port || 5672) });
  proxies.push(redisProxy, amqpProxy);
  const amqpUrl = new URL(AMQP_URL);
  amqpUrl.hostname = '127.0.0.1';
  amqpUrl.port = String(amqpProxy.port);
  gateway = await spawnGateway({
    REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
    REDIS_KEY_PREFIX: REDIS_PREFIX,
    AMQP_URL: amqpUrl.toString(),
    AMQP_PREFIX,
    APPS: JSON.stringify([APP_A]),
    INSTANCE_ID: 'rc-gw',
    DRAIN_TIMEOUT_MS: '500',
  });
  const http = `http://127.0.0.1:${gateway.port}`;
  expect(await metricValue(http, 'switchyard_redis_reconnects_total')).toBe(0);
  expect(await metricValue(http, 'switchyard_amqp_reconnects_total')).toBe(0);

  redisProxy.cutAll();
  amqpProxy.cutAll();
  await waitFor(
    async () => (await metricValue(http, 'switchyard_redis_reconnects_total'))! >= 1 && (await metricValue(http, 'switchyard_amqp_reconnects_total'))! >= 1,
    { timeoutMs: 15_000, what: 'both reconnects counted' },
  );
  await waitFor(async () => (await fetch(`${http}/readyz`)).ok, { timeoutMs: 15_000, what: 'ready again' });
}, 60_000);
