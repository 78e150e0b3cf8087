/**
 * Real Redis for tests. Every test file gets its own key prefix, so runs never collide, and
 * removes its keys afterwards. No test silently passes without Redis: requireRedis() fails
 * with instructions when the server is not reachable (`bun run test` starts it).
 */
import { afterAll, beforeAll } from 'bun:test';
import { Redis } from 'ioredis';
import { connectRedis, type RedisClient } from '../../src/cluster/redis/connection.ts';
import type { Subprocess } from 'bun';
import { waitFor } from '../../src/lib/waitFor.ts';
import { freePort } from './process.ts';

export const REDIS_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

/** A prefix unique to this run and purpose, e.g. `t:history:k3j2x:`. */
export function uniquePrefix(purpose: string): string {
  return `t:${purpose}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
}

/** A plain client for assertions and clean-up (RESP2, like the backend). */
export function testClient(url = REDIS_URL): Redis {
  return new Redis(url, { protocol: 2, maxRetriesPerRequest: 2 });
}

export async function requireRedis(url = REDIS_URL): Promise<void> {
  const client = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`Redis is required at ${url} (run the suite with \`bun run test\`, which starts it; install with \`sudo apt-get install -y redis-server\`): ${String(error)}`);
  } finally {
    client.disconnect();
  }
}

/** Every key under a prefix (standalone server). */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

export async function deleteKeysUnder(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) await client.del(...keys);
}

/** A redis-server of the test's own, on a free loopback port; stopped by PID. */
export interface RedisServer {
  port: number;
  url: string;
  proc: Subprocess;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
}

export async function startRedisServer(options: { port?: number; args?: string[]; dir?: string } = {}): Promise<RedisServer> {
  const port = options.port ?? freePort();
  const dir = options.dir ?? `/tmp/switchyard-test-redis-${port}`;
  await Bun.$`mkdir -p ${dir}`.quiet();
  const proc = Bun.spawn(
    ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])],
    { stdout: 'ignore', stderr: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${proc.exitCode}`);
      const c = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      // Refused while the server starts: expected, and reported by connect() itself.
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    },
    { timeoutMs: 10_000, what: `redis-server on port ${port}` },
  );
  return {
    port,
    url,
    proc,
    kill: async () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/**
 * A Switchyard Redis client for a whole test file: requires Redis before the tests, deletes
 * every key under `prefix` and disconnects after them.
 */
export function useRedisClient(prefix: string): { readonly client: RedisClient } {
  let client: RedisClient | null = null;
  beforeAll(async () => {
    await requireRedis();
    client = connectRedis({ url: REDIS_URL, cluster: false });
  });
  afterAll(async () => {
    const admin = testClient();
    await deleteKeysUnder(admin, prefix);
    admin.disconnect();
    client?.disconnect();
  });
  return {
    get client() {
      if (!client) throw new Error('useRedisClient: the client connects in beforeAll');
      return client;
    },
  };
}
