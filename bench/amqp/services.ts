/**
 * The shared services the RabbitMQ scenarios run against, on loopback: Redis and RabbitMQ,
 * started outside the harness (`bash scripts/services.sh`). Checks that both answer, and
 * finds their server processes in /proc so that their CPU is measured like the harness's own
 * children's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as amqp from 'amqplib';
import { Redis } from 'ioredis';

export const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_PORT = 6379;

export interface ServicePids {
  /** The Erlang VM running RabbitMQ (beam.smp). */
  rabbitmq: number;
  redis: number;
}

/** Throws, saying how to start them, when Redis or RabbitMQ does not answer. */
export async function requireServices(): Promise<void> {
  const hint = 'start them with `bash scripts/services.sh` (install: `sudo apt-get install -y redis-server rabbitmq-server`)';
  try {
    const connection = await amqp.connect(AMQP_URL);
    await connection.close();
  } catch (error) {
    throw new Error(`RabbitMQ does not answer at ${AMQP_URL} (${String(error)}); ${hint}`);
  }
  const redis = new Redis(REDIS_URL, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`Redis does not answer at ${REDIS_URL} (${String(error)}); ${hint}`);
  } finally {
    redis.disconnect();
  }
}

/** The PIDs of the RabbitMQ and Redis servers, found by command name and arguments. */
export function findServicePids(): ServicePids {
  let rabbitmq: number | undefined;
  let redis: number | undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    let cmdline: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // exited meanwhile
    }
    if (comm === 'beam.smp' && cmdline.includes('-s rabbit boot')) rabbitmq = Number(entry);
    else if (comm === 'redis-server' && new RegExp(`:${REDIS_PORT}(\\s|$)`).test(cmdline)) redis = Number(entry);
  }
  if (rabbitmq === undefined) throw new Error('no RabbitMQ (beam.smp) process found');
  if (redis === undefined) throw new Error(`no redis-server process on port ${REDIS_PORT} found`);
  return { rabbitmq, redis };
}
