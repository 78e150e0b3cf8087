/**
 * Entry point of a gateway instance (`bun start`). The composition root: reads config,
 * picks the cluster backend, wires the Gateway, and stops it in order on SIGTERM/SIGINT.
 */
import { ConfigError, loadConfig, type Config } from '../config.ts';
import type { ClusterBackend } from '../cluster/backend.ts';
import { MemoryCluster } from '../cluster/memory/memoryBackend.ts';
import { RedisBackend } from '../cluster/redis/redisBackend.ts';
import { redisBackendOptions } from './redisBackendOptions.ts';
import { Gateway } from '../gateway/gateway.ts';
import { AmqpConnection } from '../amqp/connection.ts';
import { AmqpJobPublisher } from '../amqp/amqpJobPublisher.ts';
import { amqpNames } from '../amqp/topology.ts';
import { createLogger, type Logger } from '../lib/log.ts';

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
  return new MemoryCluster({
    historySize: config.historySize,
    historyMaxAgeMs: config.historyMaxAgeMs,
    instanceTtlMs: config.instanceTtlMs,
    dedupeWindowMs: config.dedupeWindowMs,
  }).backend(config.instanceId);
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
const gateway = new Gateway(config, backend, log, jobs);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('shutting down', { signal });
  await gateway.stop();
  await amqp?.stop();
  await backend.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await amqp?.start();
await gateway.start();
