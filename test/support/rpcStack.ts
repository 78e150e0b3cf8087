/**
 * The jobs-over-WebSocket path in one test process, on real Redis and RabbitMQ: gateways
 * (Redis backend) with a real AMQP job publisher each, and a bridge that carries worker replies
 * from the results queue into the gateway's inbox. Workers are the test's business (any
 * language, in or out of process). Everything runs under the given AMQP and Redis prefixes;
 * stop() stops what started (also when start() failed half-way) and deletes the Redis keys.
 * Queues and exchanges are left to TestBroker.cleanup(methods), which knows the methods.
 */
import { loadConfig, type Config } from '../../src/config.ts';
import { AmqpConnection } from '../../src/amqp/connection.ts';
import { AmqpJobPublisher } from '../../src/amqp/amqpJobPublisher.ts';
import { amqpNames, type AmqpNames } from '../../src/amqp/topology.ts';
import { Bridge } from '../../src/bridge/bridge.ts';
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import { redisBackendOptions } from '../../src/main/redisBackendOptions.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { silentLogger, type Logger } from '../../src/lib/log.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL } from './amqp.ts';
import { APP_A, APP_B, APP_STRICT } from './gateway.ts';
import { deleteKeysUnder, REDIS_URL, testClient } from './redis.ts';

export interface RpcStackOptions {
  /** AMQP_PREFIX shared by the gateway, the bridge and the workers. */
  amqpPrefix: string;
  /** Redis key prefix of this stack (deleted by stop()). */
  redisPrefix: string;
  /** Added to the gateways' configuration (e.g. RPC_DEFAULT_TIMEOUT_MS). */
  env?: Record<string, string>;
  /** Gateway instances sharing the stack's Redis and RabbitMQ. @default 1 */
  instances?: number;
  log?: Logger;
}

export interface RpcStackGateway {
  id: string;
  gateway: Gateway;
  jobs: AmqpJobPublisher;
  /** ws://127.0.0.1:port/ws?app=<app>&<query> */
  wsUrl(app: string, query?: Record<string, string>): string;
}

export interface RpcStack {
  gateways: RpcStackGateway[];
  /** The first gateway (and its publisher and URL), for single-instance tests. */
  gateway: Gateway;
  jobs: AmqpJobPublisher;
  wsUrl(app: string, query?: Record<string, string>): string;
  bridge: Bridge;
  config: Config;
  names: AmqpNames;
  /** Stops the bridge, the gateway and their connections; deletes the stack's Redis keys. Idempotent. */
  stop(): Promise<void>;
}

function redisBackend(config: Config, instanceId: string, reapIntervalMs: number, log: Logger): RedisBackend {
  return new RedisBackend(redisBackendOptions({ ...config, redisUrl: REDIS_URL }, instanceId, reapIntervalMs), log);
}

export async function startRpcStack(options: RpcStackOptions): Promise<RpcStack> {
  const log = options.log ?? silentLogger;
  const base = `rpc-${Math.random().toString(36).slice(2, 8)}`;
  const configFor = (instanceId: string): Config =>
    loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      APPS: JSON.stringify([APP_A, APP_B, APP_STRICT]),
      INSTANCE_ID: instanceId,
      REDIS_URL,
      REDIS_KEY_PREFIX: options.redisPrefix,
      AMQP_URL,
      AMQP_PREFIX: options.amqpPrefix,
      BRIDGE_PORT: '0',
      DRAIN_TIMEOUT_MS: '2000',
      RATE_LIMIT_FRAMES_PER_SEC: '100000',
      RATE_LIMIT_BURST: '100000',
      ...options.env,
    });
  const config = configFor(`${base}-g0`);
  const names = amqpNames(config.amqpPrefix, config.rpcQueueType);

  // What started, stopped in reverse order, as the entry points' ServiceList does.
  const started: (() => Promise<void>)[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const errors: unknown[] = [];
    for (const undo of started.reverse()) await undo().catch((error: unknown) => errors.push(error));
    const redis = testClient();
    try {
      await deleteKeysUnder(redis, options.redisPrefix);
    } finally {
      redis.disconnect();
    }
    if (errors.length > 0) throw new AggregateError(errors, 'rpc stack: stopping failed');
  };

  try {
    // Gateway side, as src/main/gateway.ts wires it.
    const gateways: RpcStackGateway[] = [];
    for (let i = 0; i < (options.instances ?? 1); i++) {
      const id = `${base}-g${i}`;
      const cfg = configFor(id);
      const backend = redisBackend(cfg, id, cfg.heartbeatIntervalMs, log);
      const amqp = new AmqpConnection({ url: AMQP_URL, name: `test-gateway-${id}` }, log);
      const jobs = new AmqpJobPublisher(amqp, names);
      const gateway = new Gateway(cfg, backend, log, jobs);
      started.push(() => backend.close());
      await backend.start();
      started.push(() => amqp.stop());
      await amqp.start();
      started.push(() => gateway.stop());
      await gateway.start();
      gateways.push({
        id,
        gateway,
        jobs,
        wsUrl: (app, query = {}) => `ws://127.0.0.1:${gateway.port}/ws?${new URLSearchParams({ app, ...query })}`,
      });
    }

    // Bridge side, as src/main/bridge.ts wires it (its own connections; no reaper).
    const bridgeId = `bridge-${base}`;
    const bridgeAmqp = new AmqpConnection({ url: AMQP_URL, name: `test-${bridgeId}` }, log);
    const bridgeBackend = redisBackend(config, bridgeId, 0, log);
    const bridge = new Bridge(
      bridgeAmqp,
      names,
      bridgeBackend,
      {
        apps: config.apps.map((a) => a.id),
        prefetch: config.bridgePrefetch,
        maxMessageBytes: config.maxFrameBytes,
        host: '127.0.0.1',
        port: 0,
        keyPrefix: options.redisPrefix,
        gatewayCheckIntervalMs: config.heartbeatIntervalMs,
        resumeWindowMs: config.resumeWindowMs,
      },
      log,
    );
    started.push(() => bridgeBackend.close());
    await bridgeBackend.start();
    started.push(() => bridge.stop());
    await bridge.start();
    started.push(() => bridgeAmqp.stop());
    await bridgeAmqp.start();
    // Connected is not yet set up: the publishers' channels and the replies consumer come
    // from setup hooks. Until then an `rpc` frame would get `unavailable`.
    await waitFor(() => gateways.every((g) => g.jobs.isReady()) && bridge.replies.isConsuming(), {
      timeoutMs: 10_000,
      what: 'the job publishers and the replies consumer',
    });
    const first = gateways[0]!;
    return { gateways, gateway: first.gateway, jobs: first.jobs, wsUrl: first.wsUrl, bridge, config, names, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}
