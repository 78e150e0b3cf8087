/**
 * The Redis server the cluster scenarios share, on 127.0.0.1:6379: started by
 * scripts/services.sh where it is installed but not running, and looked at from outside
 * (its PID for CPU time, its command counters) through Bun's own Redis client, so that the
 * harness adds no client library of its own. Each run's keys are deleted by prefix afterwards.
 */
import { RedisClient } from 'bun';

export const REDIS_URL = 'redis://127.0.0.1:6379';
const REPO_ROOT = new URL('../..', import.meta.url).pathname;

/** Counters Redis keeps since it started; the harness takes differences. */
export interface RedisCounters {
  /** Calls per command name (lower case), from INFO commandstats. */
  calls: Record<string, number>;
  /** Microseconds Redis spent in each command, from INFO commandstats. */
  usec: Record<string, number>;
  /**
   * Read events the server processed (INFO stats total_reads_processed): one per batch of
   * commands a client's socket delivered, so about one per round trip or pipeline flush.
   */
  reads: number;
}

export class RedisHost {
  private constructor(private readonly client: RedisClient, readonly pid: number) {}

  /** Connects to Redis on 127.0.0.1:6379, starting it first where it is not running. */
  static async open(): Promise<RedisHost> {
    if (!(await reachable())) {
      const started = Bun.spawnSync(['bash', 'scripts/services.sh', 'redis'], { cwd: REPO_ROOT, stdout: 'inherit', stderr: 'inherit' });
      if (started.exitCode !== 0) throw new Error('Redis is not running on 127.0.0.1:6379 and scripts/services.sh could not start it');
    }
    const client = new RedisClient(REDIS_URL);
    const pid = Number(/^process_id:(\d+)/m.exec(await info(client, 'server'))?.[1]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error('INFO server gave no process_id');
    return new RedisHost(client, pid);
  }

  async counters(): Promise<RedisCounters> {
    const [commands, stats] = await Promise.all([info(this.client, 'commandstats'), info(this.client, 'stats')]);
    const calls: Record<string, number> = {};
    const usec: Record<string, number> = {};
    for (const match of commands.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      calls[match[1]!] = Number(match[2]);
      usec[match[1]!] = Number(match[3]);
    }
    return { calls, usec, reads: Number(/^total_reads_processed:(\d+)/m.exec(stats)?.[1] ?? Number.NaN) };
  }

  /** Bytes Redis has allocated (INFO memory used_memory). */
  async usedMemory(): Promise<number> {
    return Number(/^used_memory:(\d+)/m.exec(await info(this.client, 'memory'))?.[1] ?? Number.NaN);
  }

  /** How many keys start with `prefix` (no glob characters, as deletePrefix). */
  async countPrefix(prefix: string): Promise<number> {
    let count = 0;
    for await (const keys of this.scan(globOf(prefix))) count += keys.length;
    return count;
  }

  /** Every client connection Redis holds: its remote port and seconds since its last command. */
  async clients(): Promise<{ port: number; idleSec: number }[]> {
    const list = String(await this.client.send('CLIENT', ['LIST']));
    return list
      .split('\n')
      .map((line) => ({ port: Number(/\baddr=[^ ]*:(\d+) /.exec(line)?.[1]), idleSec: Number(/\bidle=(\d+)/.exec(line)?.[1]) }))
      .filter((c) => Number.isInteger(c.port) && Number.isInteger(c.idleSec));
  }

  /**
   * Deletes every key starting with `prefix`. The prefix must hold no glob characters
   * (the harness makes it from letters, digits, `-` and `:`).
   */
  async deletePrefix(prefix: string): Promise<number> {
    return this.deleteMatching(globOf(prefix), () => true);
  }

  /** Deletes the keys that match the glob `pattern` and that `select` picks. */
  async deleteMatching(pattern: string, select: (key: string) => boolean): Promise<number> {
    let deleted = 0;
    for await (const found of this.scan(pattern)) {
      const keys = found.filter(select);
      if (keys.length > 0) deleted += Number(await this.client.send('UNLINK', keys));
    }
    return deleted;
  }

  /** The keys that match the glob `pattern`, a SCAN page at a time. */
  private async *scan(pattern: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, found] = (await this.client.send('SCAN', [cursor, 'MATCH', pattern, 'COUNT', '1000'])) as [string, string[]];
      cursor = next;
      yield found;
    } while (cursor !== '0');
  }

  close(): void {
    this.client.close();
  }
}

async function reachable(): Promise<boolean> {
  const probe = new RedisClient(REDIS_URL, { autoReconnect: false, connectionTimeout: 1000 });
  try {
    return (await probe.send('PING', [])) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.close();
  }
}

/** The glob of every key starting with `prefix`, which must hold no glob characters (the harness makes it from letters, digits, `-` and `:`). */
function globOf(prefix: string): string {
  if (/[*?[\]\\]/.test(prefix)) throw new Error(`key prefix ${JSON.stringify(prefix)} holds glob characters`);
  return `${prefix}*`;
}

async function info(client: RedisClient, section: string): Promise<string> {
  return String(await client.send('INFO', [section]));
}

/** Per command name, calls and microseconds between two readings, for the commands called. */
export function commandsBetween(from: RedisCounters, to: RedisCounters): Record<string, { calls: number; usec: number }> {
  const out: Record<string, { calls: number; usec: number }> = {};
  for (const [name, calls] of Object.entries(to.calls)) {
    const delta = calls - (from.calls[name] ?? 0);
    if (delta > 0) out[name] = { calls: delta, usec: (to.usec[name] ?? 0) - (from.usec[name] ?? 0) };
  }
  return out;
}
