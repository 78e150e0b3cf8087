/**
 * Starts and stops the two clusters under test, each two server processes on free ports of
 * 127.0.0.1 sharing the Redis on 127.0.0.1:6379 under names unique to the run:
 *
 * - `switchyard-cluster`: two `bun src/main/gateway.ts` with REDIS_URL, a fresh
 *   REDIS_KEY_PREFIX and their own INSTANCE_ID; publishes enter through instance A's
 *   `POST /api/apps/demo/publish`.
 * - `socketio-cluster`: two bench/socketioServer.ts with `@socket.io/redis-streams-adapter`
 *   on a fresh stream; publishes enter through instance A's `POST /publish`.
 *
 * Every process is stopped by PID and the run's keys deleted, whatever happens.
 */
import type { Subprocess } from 'bun';
import { stopChild, track } from '../children.ts';
import { environment, freePort, waitReady } from '../servers.ts';
import type { Dialect } from '../workerProtocol.ts';
import type { CLUSTER_OF_SERVER, SocketIoRuntime } from './options.ts';
import { REDIS_URL, RedisHost } from './redisHost.ts';

export type ClusterKind = (typeof CLUSTER_OF_SERVER)[keyof typeof CLUSTER_OF_SERVER];

/** The demo app's public secret (src/config.ts): what the HTTP publish API wants. */
const DEMO_AUTHORIZATION = 'Bearer demo-secret-not-for-production';
const REPO_ROOT = new URL('../..', import.meta.url).pathname;
const INSTANCE_NAMES = ['a', 'b'] as const;
/** Key prefixes of the runs: `<name>-<start time, base 36>-<random>`. */
const PREFIX_NAMES = { 'switchyard-cluster': 'sybench', 'socketio-cluster': 'siobench' } as const;
/** A run's keys left behind (the harness was killed) are swept by a run this much later. */
const LEFTOVER_AGE_MS = 60 * 60_000;

export interface ClusterInstance {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** Where subscribers connect. */
  readonly wsUrl: string;
}

export interface RunningCluster {
  readonly kind: ClusterKind;
  /** The kind, and for Socket.IO its runtime: for progress lines. */
  readonly label: string;
  /** Instance A first: publishes enter through it. */
  readonly instances: readonly ClusterInstance[];
  readonly dialect: Dialect;
  /** The HTTP publish API of instance A (see bench/httpPublishChannel.ts). */
  readonly publishUrl: string;
  readonly publishAuthorization: string | undefined;
  readonly redis: RedisHost;
  /** Throws when an instance has exited, so that a crash is reported as one. */
  assertAlive(): void;
}

interface Spawned {
  readonly instance: ClusterInstance;
  readonly proc: Subprocess;
}

/**
 * Runs `fn` against a fresh two-instance cluster, then stops it and deletes its keys.
 * `runtime` runs the Socket.IO instances (Switchyard's always run on Bun).
 */
export async function withCluster<T>(kind: ClusterKind, runtime: SocketIoRuntime, logPath: string, fn: (cluster: RunningCluster) => Promise<T>): Promise<T> {
  const redis = await RedisHost.open();
  // Letters, digits and '-' only: RedisHost.deletePrefix takes it as a glob.
  const runId = `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  const keyPrefix = `${PREFIX_NAMES[kind]}-${runId}${kind === 'switchyard-cluster' ? ':' : ''}`;
  const spawned: Spawned[] = [];
  try {
    await sweepLeftovers(redis);
    const ports = distinctFreePorts(INSTANCE_NAMES.length);
    for (const [i, name] of INSTANCE_NAMES.entries()) {
      const port = ports[i]!;
      const log = logPath.replace(/\.log$/, `-${name}.log`);
      const proc = Bun.spawn({
        cmd: await command(kind, runtime),
        cwd: REPO_ROOT,
        env: { ...environment(port), ...clusterEnvironment(kind, keyPrefix, name) },
        // Logs go to a file; a crash's stack trace (stderr) stays visible.
        stdio: ['ignore', Bun.file(log), 'inherit'],
      });
      track(`${kind}-${name}`, proc);
      spawned.push({ proc, instance: { name, pid: proc.pid, port, wsUrl: wsUrl(kind, port) } });
      await waitReady(proc, port, log);
    }
    const a = spawned[0]!.instance;
    return await fn({
      kind,
      label: kind === 'socketio-cluster' ? `${kind} (on ${runtime})` : kind,
      instances: spawned.map((s) => s.instance),
      dialect: kind === 'switchyard-cluster' ? 'switchyard' : 'socket.io',
      publishUrl: kind === 'switchyard-cluster' ? `http://127.0.0.1:${a.port}/api/apps/demo/publish` : `http://127.0.0.1:${a.port}/publish`,
      publishAuthorization: kind === 'switchyard-cluster' ? DEMO_AUTHORIZATION : undefined,
      redis,
      assertAlive: () => {
        for (const { proc, instance } of spawned) {
          if (proc.exitCode !== null || proc.signalCode !== null) {
            throw new Error(`${kind} instance ${instance.name} (pid ${instance.pid}) exited with ${proc.signalCode ?? `code ${proc.exitCode}`}`);
          }
        }
      },
    });
  } finally {
    await Promise.all(spawned.map(({ proc }) => stopChild(proc, 5000)));
    try {
      await redis.deletePrefix(keyPrefix);
    } finally {
      redis.close();
    }
  }
}

/**
 * Deletes the keys of runs that started over LEFTOVER_AGE_MS ago: a harness killed by a
 * signal or its watchdog cannot delete its own. Younger ones may belong to a run going on.
 */
async function sweepLeftovers(redis: RedisHost): Promise<void> {
  const cutoff = Date.now() - LEFTOVER_AGE_MS;
  for (const name of Object.values(PREFIX_NAMES)) {
    const ours = new RegExp(`^${name}-([0-9a-z]{8})-[0-9a-f]{8}`);
    await redis.deleteMatching(`${name}-*`, (key) => {
      const started = ours.exec(key)?.[1];
      return started !== undefined && parseInt(started, 36) < cutoff;
    });
  }
}

function distinctFreePorts(count: number): number[] {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(freePort());
  return [...ports];
}

async function command(kind: ClusterKind, runtime: SocketIoRuntime): Promise<string[]> {
  // What `bun start` runs, spawned directly so that the PID we measure is the server's own.
  if (kind === 'switchyard-cluster') return [process.execPath, 'src/main/gateway.ts'];
  if (runtime === 'bun') return [process.execPath, 'bench/socketioServer.ts'];
  return ['node', await socketIoServerForNode()];
}

/**
 * Node 20 cannot run TypeScript: the server is bundled once per harness run into .tmp/
 * (inside the repository, so that Node finds node_modules), its packages left as imports.
 */
let builtForNode: Promise<string> | null = null;
function socketIoServerForNode(): Promise<string> {
  builtForNode ??= (async () => {
    const outdir = `${REPO_ROOT}.tmp/bench`;
    const built = await Bun.build({ entrypoints: [`${REPO_ROOT}bench/socketioServer.ts`], target: 'node', packages: 'external', outdir, naming: '[name].mjs' });
    const output = built.outputs[0];
    if (!built.success || !output) throw new Error(`could not bundle bench/socketioServer.ts for Node: ${built.logs.join('\n')}`);
    return output.path;
  })();
  return builtForNode;
}

function clusterEnvironment(kind: ClusterKind, keyPrefix: string, name: string): Record<string, string> {
  if (kind === 'switchyard-cluster') {
    return { REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, INSTANCE_ID: `bench-${name}` };
  }
  return { REDIS_URL, SIO_STREAM_NAME: keyPrefix, SIO_CHANNEL_PREFIX: keyPrefix };
}

function wsUrl(kind: ClusterKind, port: number): string {
  return kind === 'switchyard-cluster' ? `ws://127.0.0.1:${port}/ws?app=demo` : `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`;
}
