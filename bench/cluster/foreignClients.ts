/**
 * Who else is using the shared Redis. Redis's CPU time is reported apart and not counted as
 * "other processes", so another program working Redis hard during a round (a test suite, a
 * second bench) would inflate the Redis figures unseen. Redis 7.0 keeps no per-client
 * counters, so the harness counts the clients that are not the systems under test's (nor its
 * own) and sent a command within the last second: such a round counts as disturbed.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { RedisHost } from './redisHost.ts';

/** Clients of `redis` active within the last second whose connection no process of `pids` owns. */
export async function activeForeignClients(redis: RedisHost, pids: readonly number[]): Promise<number> {
  const ours = localPorts(pids);
  return (await redis.clients()).filter((c) => c.idleSec === 0 && !ours.has(c.port)).length;
}

/** Local ports of the TCP sockets the processes hold open (Linux /proc). */
function localPorts(pids: readonly number[]): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of safe(() => readdirSync(`/proc/${pid}/fd`), [])) {
      const target = safe(() => readlinkSync(`/proc/${pid}/fd/${fd}`), '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    for (const line of safe(() => readFileSync(table, 'utf8'), '').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && inodes.has(fields[9]!)) ports.add(parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** A process can exit (or an fd close) between listing and reading. */
function safe<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
