/**
 * A private Redis Cluster for tests: three masters (no replicas) on free loopback ports, each
 * a redis-server of its own with its own working directory and cluster config file under one
 * temporary directory. Stopped by PID; the directory is removed on stop.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from '../../src/lib/waitFor.ts';
import { startRedisServer, type RedisServer } from './redis.ts';

export interface RedisCluster {
  nodes: RedisServer[];
  /** redis://127.0.0.1:<port of the first node>: the seed a gateway is given. */
  seedUrl: string;
  /** One plain client per master, for assertions (SCAN, CLUSTER KEYSLOT). */
  admins: Redis[];
  /** The master serving `key`, as an index into `nodes`. */
  nodeOf(key: string): Promise<number>;
  /** Every key under a prefix, over all masters. */
  keysUnder(prefix: string): Promise<string[]>;
  /** Kills every node, closes the admin clients and removes the directory. */
  stop(): Promise<void>;
}

/** Fields of `CLUSTER INFO` as a map. */
function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const sep = line.indexOf(':');
    if (sep > 0) out.set(line.slice(0, sep), line.slice(sep + 1).trim());
  }
  return out;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-test-cluster-'));
  const nodes: RedisServer[] = [];
  const admins: Redis[] = [];
  const stop = async () => {
    for (const admin of admins) admin.disconnect();
    for (const node of nodes) await node.kill();
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const dir = join(root, `node-${i}`);
      nodes.push(
        await startRedisServer({
          dir,
          // The config file is written into --dir; a node timeout of 2 s keeps failure detection short.
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`, '--cluster-node-timeout', '2000'],
        }),
      );
    }
    const create = Bun.spawn(
      ['redis-cli', '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
    );
    const [code, out, err] = await Promise.all([create.exited, new Response(create.stdout).text(), new Response(create.stderr).text()]);
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}: ${out}\n${err}`);
    for (const node of nodes) admins.push(new Redis(node.url, { protocol: 2, maxRetriesPerRequest: 2 }));
    // Every node must see the whole cluster: all slots covered, every peer known.
    await waitFor(
      async () => {
        for (const admin of admins) {
          const info = parseInfo(String(await admin.call('CLUSTER', 'INFO')));
          if (info.get('cluster_state') !== 'ok' || info.get('cluster_known_nodes') !== String(masters) || info.get('cluster_slots_ok') !== '16384') return false;
        }
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 50, what: 'cluster_state:ok on every node' },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  // Slot ranges per node, read once: the cluster is not resharded during a test.
  const ranges: { from: number; to: number; node: number }[] = [];
  const slots = (await admins[0]!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  for (const [from, to, master] of slots) {
    const node = nodes.findIndex((n) => n.port === Number(master[1]));
    ranges.push({ from, to, node });
  }

  return {
    nodes,
    seedUrl: nodes[0]!.url,
    admins,
    nodeOf: async (key) => {
      const slot = Number(await admins[0]!.call('CLUSTER', 'KEYSLOT', key));
      const range = ranges.find((r) => slot >= r.from && slot <= r.to);
      if (!range) throw new Error(`no node serves slot ${slot}`);
      return range.node;
    },
    keysUnder: async (prefix) => {
      const out: string[] = [];
      for (const admin of admins) {
        let cursor = '0';
        do {
          const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
          cursor = next;
          out.push(...keys);
        } while (cursor !== '0');
      }
      return out.sort();
    },
    stop,
  };
}
