/**
 * Entry point of a gateway instance (`bun start`). The composition root: reads config,
 * picks the cluster backend, wires the Gateway, and starts the services in order (the
 * cluster backend, RabbitMQ if configured, the gateway) through one ServiceList, which stops
 * them in reverse on SIGTERM/SIGINT: the gateway (stop accepting, drain with 4000, inbox
 * reader, retire), then RabbitMQ, then Redis. Every step is bounded.
 */
import { ConfigError, loadConfig, type Config } from '../config.ts';
import type { ClusterBackend } from '../cluster/backend.ts';
import { MemoryCluster } from '../cluster/memory/memoryBackend.ts';
import { RedisBackend } from '../cluster/redis/redisBackend.ts';
import { redisBackendOptions } from './redisBackendOptions.ts';
import { memoryClusterOptions } from './memoryClusterOptions.ts';
import { Gateway } from '../gateway/gateway.ts';
import { AmqpConnection } from '../amqp/connection.ts';
import { AmqpJobPublisher } from '../amqp/amqpJobPublisher.ts';
import { amqpNames } from '../amqp/topology.ts';
import { AmqpUpdatePublisher } from '../amqp/amqpUpdatePublisher.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { ServiceList } from '../lib/serviceList.ts';
import { backendService, startAll, stopOnSignals } from './processLifecycle.ts';
import { GatewayMetrics } from '../metrics/metrics.ts';
import { countReconnects } from './reconnectMetrics.ts';

/**
 * Bounds of the stop steps around the gateway's own. Redis and RabbitMQ each get 1 s to
 * answer the close before the socket is dropped (RedisBackend.close, AmqpConnection.stop);
 * the extra 500 ms covers the step itself. The gateway's bound is the sum of its steps'.
 */
const CONNECTION_STOP_TIMEOUT_MS = 1500;
const GATEWAY_STOP_SLACK_MS = 500;

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchyard: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

function createBackend(config: Config, log: Logger): ClusterBackend {
  if (config.redisUrl) {
    return new RedisBackend(
      redisBackendOptions({ ...config, redisUrl: config.redisUrl }, config.instanceId, config.heartbeatIntervalMs),
      log.child({ component: 'redis' }),
    );
  }
  return new MemoryCluster(memoryClusterOptions(config)).backend(config.instanceId);
}

const config = readConfig();
const log = createLogger(config.logLevel, { instance: config.instanceId });
if (config.demoMode) {
  log.warn('APPS is not set: serving the "demo" app (anonymous sessions, client publish, public secret). For development only.');
}
const backend = createBackend(config, log);
// Jobs over WebSocket need RabbitMQ; without AMQP_URL, `rpc` frames answer `unavailable`.
const amqp = config.amqpUrl ? new AmqpConnection({ url: config.amqpUrl, name: `gateway-${config.instanceId}` }, log.child({ component: 'amqp' })) : null;
const jobs = amqp ? new AmqpJobPublisher(amqp, amqpNames(config.amqpPrefix, config.rpcQueueType)) : null;
// The delivery probe's RabbitMQ path: an update for the bridge, as a data-center producer sends one.
const updates = amqp ? new AmqpUpdatePublisher(amqp, amqpNames(config.amqpPrefix, config.rpcQueueType)) : null;
const metrics = new GatewayMetrics({ processMetrics: true });
countReconnects(metrics, backend, amqp);
const gateway = new Gateway(
  config,
  backend,
  log,
  jobs,
  metrics,
  updates ? (app, topic, data, expiresInMs) => updates.publish({ app, topic, data }, expiresInMs) : null,
);

const services = new ServiceList(log);
stopOnSignals(services, log);
await startAll(
  services,
  [
    { name: backend.kind, service: backendService(backend), stopTimeoutMs: CONNECTION_STOP_TIMEOUT_MS },
    ...(amqp ? [{ name: 'amqp', service: amqp, stopTimeoutMs: CONNECTION_STOP_TIMEOUT_MS }] : []),
    {
      name: 'gateway',
      service: gateway,
      stopTimeoutMs: gateway.stopTimeoutMs + GATEWAY_STOP_SLACK_MS,
      listensOn: { host: config.host, port: config.port, variable: 'PORT' },
    },
  ],
  'switchyard',
  log,
);
