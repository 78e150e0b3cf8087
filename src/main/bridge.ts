/**
 * Entry point of the RabbitMQ bridge (`bun run bridge`): its own process. Needs REDIS_URL
 * (the streams it writes to) and AMQP_URL; reads the same APPS as the gateways. Starts Redis,
 * the bridge's health endpoints, then RabbitMQ (consuming begins last) through one
 * ServiceList, which stops them in reverse on SIGTERM/SIGINT: consuming ends first
 * (unacknowledged updates go back to the queue), Redis closes last. Every step is bounded.
 */
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { RedisBackend } from '../cluster/redis/redisBackend.ts';
import { redisBackendOptions } from './redisBackendOptions.ts';
import { AmqpConnection } from '../amqp/connection.ts';
import { amqpNames } from '../amqp/topology.ts';
import { Bridge } from '../bridge/bridge.ts';
import { createLogger } from '../lib/log.ts';
import { ServiceList } from '../lib/serviceList.ts';
import { backendService, startAll, stopOnSignals } from './processLifecycle.ts';
import { BridgeMetrics } from '../metrics/metrics.ts';
import { countReconnects } from './reconnectMetrics.ts';

/** Redis and RabbitMQ each get 1 s to answer the close, then the socket is dropped; 500 ms for the step itself. */
const CONNECTION_STOP_TIMEOUT_MS = 1500;
/** Closing the health endpoints' server. */
const BRIDGE_STOP_TIMEOUT_MS = 1000;

function readConfig(): Config & { redisUrl: string; amqpUrl: string } {
  try {
    const config = loadConfig();
    if (!config.redisUrl) throw new ConfigError('REDIS_URL', 'a redis:// URL: the bridge writes to the cluster streams');
    if (!config.amqpUrl) throw new ConfigError('AMQP_URL', 'an amqp:// URL: the bridge consumes from RabbitMQ');
    return config as Config & { redisUrl: string; amqpUrl: string };
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchyard bridge: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const config = readConfig();
const bridgeId = `bridge-${config.instanceId}`;
const log = createLogger(config.logLevel, { service: 'bridge', instance: bridgeId });
const backend = new RedisBackend(redisBackendOptions(config, bridgeId, 0), log.child({ component: 'redis' }));
const amqp = new AmqpConnection({ url: config.amqpUrl, name: bridgeId }, log.child({ component: 'amqp' }));
const metrics = new BridgeMetrics({ processMetrics: true });
countReconnects(metrics, backend, amqp);
const bridge = new Bridge(
  amqp,
  amqpNames(config.amqpPrefix, config.rpcQueueType),
  backend,
  {
    apps: config.apps.map((a) => a.id),
    prefetch: config.bridgePrefetch,
    maxMessageBytes: config.maxFrameBytes,
    host: config.host,
    port: config.bridgePort,
    keyPrefix: config.redisKeyPrefix,
    gatewayCheckIntervalMs: config.heartbeatIntervalMs,
    resumeWindowMs: config.resumeWindowMs,
  },
  log,
  metrics,
);

const services = new ServiceList(log);
stopOnSignals(services, log);
await startAll(
  services,
  [
    { name: 'redis', service: backendService(backend), stopTimeoutMs: CONNECTION_STOP_TIMEOUT_MS },
    { name: 'bridge', service: bridge, stopTimeoutMs: BRIDGE_STOP_TIMEOUT_MS, listensOn: { host: config.host, port: config.bridgePort, variable: 'BRIDGE_PORT' } },
    { name: 'amqp', service: amqp, stopTimeoutMs: CONNECTION_STOP_TIMEOUT_MS },
  ],
  'switchyard bridge',
  log,
);
