/**
 * Entry point of the RabbitMQ bridge (`bun run bridge`): its own process. Needs REDIS_URL
 * (the streams it writes to) and AMQP_URL; reads the same APPS as the gateways.
 */
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { RedisBackend } from '../cluster/redis/redisBackend.ts';
import { redisBackendOptions } from './redisBackendOptions.ts';
import { AmqpConnection } from '../amqp/connection.ts';
import { amqpNames } from '../amqp/topology.ts';
import { Bridge } from '../bridge/bridge.ts';
import { createLogger } from '../lib/log.ts';

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
const bridge = new Bridge(
  amqp,
  amqpNames(config.amqpPrefix, config.rpcQueueType),
  backend,
  { apps: config.apps.map((a) => a.id), prefetch: config.bridgePrefetch, maxMessageBytes: config.maxFrameBytes, host: config.host, port: config.bridgePort, resumeWindowMs: config.resumeWindowMs },
  log,
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('shutting down', { signal });
  await bridge.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await bridge.start();
