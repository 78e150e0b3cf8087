/**
 * The whole jobs path in one test process: gateways on real Redis with a real RabbitMQ job
 * publisher each, and the bridge that routes replies back. Workers are added by the test.
 */
import { AmqpConnection } from '../../src/amqp/connection.ts';
import { AmqpJobPublisher } from '../../src/amqp/amqpJobPublisher.ts';
import { amqpNames } from '../../src/amqp/topology.ts';
import { Bridge } from '../../src/bridge/bridge.ts';
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import { loadConfig } from '../../src/config.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { AMQP_URL } from './amqp.ts';
import { APP_A, APP_B, APP_STRICT } from './gateway.ts';
import { REDIS_URL } from './redis.ts';

export interface JobStackGateway {
  id: string;
  gateway: Gateway;
  wsUrl(app: string, query?: Record<string, string>): string;
}

export interface JobStack {
  gateways: JobStackGateway[];
  bridge: Bridge;
  stop(): Promise<void>;
}

function redisBackend(keyPrefix: string, instanceId: string): RedisBackend {
  return new RedisBackend(
    {
      url: REDIS_URL,
      cluster: false,
      keyPrefix,
      instanceId,
      historySize: 1000,
      historyMaxAgeMs: 600_000,
      instanceTtlMs: 10_000,
      reapIntervalMs: instanceId.startsWith('bridge') ? 0 : 1000,
      inbox: { batchSize: 256, blockTimeInMs: 500, maxLength: 100_000 },
    },
    silentLogger,
  );
}

export async function startJobStack(options: { redisPrefix: string; amqpPrefix: string; instances: number; env?: Record<string, string> }): Promise<JobStack> {
  const names = amqpNames(options.amqpPrefix);
  const stops: (() => Promise<void>)[] = [];
  const gateways: JobStackGateway[] = [];
  try {
    for (let i = 0; i < options.instances; i++) {
      const id = `${options.redisPrefix.replace(/[^A-Za-z0-9]/g, '').slice(-12)}-g${i}`;
      const config = loadConfig({
        HOST: '127.0.0.1',
        PORT: '0',
        INSTANCE_ID: id,
        APPS: JSON.stringify([APP_A, APP_B, APP_STRICT]),
        DRAIN_TIMEOUT_MS: '1000',
        RATE_LIMIT_FRAMES_PER_SEC: '100000',
        RATE_LIMIT_BURST: '100000',
        ...options.env,
      });
      const amqp = new AmqpConnection({ url: AMQP_URL, name: id }, silentLogger);
      const jobs = new AmqpJobPublisher(amqp, names);
      await amqp.start();
      stops.push(() => amqp.stop());
      const backend = redisBackend(options.redisPrefix, id);
      const gateway = new Gateway(config, backend, silentLogger, jobs);
      await gateway.start();
      stops.push(async () => {
        await gateway.stop();
        await backend.close();
      });
      gateways.push({
        id,
        gateway,
        wsUrl: (app, query = {}) => `ws://127.0.0.1:${gateway.port}/ws?${new URLSearchParams({ app, ...query })}`,
      });
    }
    const bridgeAmqp = new AmqpConnection({ url: AMQP_URL, name: 'test-bridge' }, silentLogger);
    const bridge = new Bridge(
      bridgeAmqp,
      names,
      redisBackend(options.redisPrefix, 'bridge'),
      { apps: [APP_A.id, APP_B.id, APP_STRICT.id], prefetch: 256, maxMessageBytes: 65536, host: '127.0.0.1', port: 0 },
      silentLogger,
    );
    await bridge.start();
    stops.push(() => bridge.stop());
    return {
      gateways,
      bridge,
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch(() => {});
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw error;
  }
}
