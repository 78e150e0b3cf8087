/**
 * Starts the processes of the Switchyard path under test, each as its entry point runs in
 * production: a gateway (`bun src/main/gateway.ts`, Redis backend, AMQP job publisher), the
 * bridge (`bun src/main/bridge.ts`), and the RPC worker (bench/amqp/jobWorker.ts, the worker
 * SDK). All on loopback, under the round's namespace, registered with bench/children.ts (so
 * every exit path kills them) and stopped by PID.
 *
 * Two diagnostics, off by default: BENCH_CPU_PROF=gateway,bridge,worker (any of them) runs
 * those under `bun --cpu-prof --cpu-prof-md`, and each writes a CPU profile (JSON and
 * markdown) next to its log when it stops; BENCH_PROBE=1 preloads bench/amqp/stageProbe.ts
 * into the gateway and the bridge, which write per-stage timings next to their logs.
 */
import { basename, dirname } from 'node:path';
import type { Subprocess } from 'bun';
import { stopChild, track } from '../children.ts';
import { sleep } from '../clock.ts';
import { childEnvironment, freePort, waitReady } from '../servers.ts';
import { AMQP_URL, REDIS_URL } from './services.ts';
import type { Namespace } from './namespace.ts';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;
const JOB_WORKER_PATH = new URL('./jobWorker.ts', import.meta.url).pathname;
const READY_TIMEOUT_MS = 15_000;
const PROFILED = new Set((process.env.BENCH_CPU_PROF ?? '').split(',').map((s) => s.trim()));
const PROBED = process.env.BENCH_PROBE === '1' ? new Set(['gateway', 'bridge']) : new Set<string>();
const STAGE_PROBE_PATH = new URL('./stageProbe.ts', import.meta.url).pathname;

/** `bun [diagnostic flags] <entry> [args]`: what the diagnostics write goes next to the process's log. */
function bunCommand(name: string, entry: string, logPath: string, args: string[] = []): string[] {
  const profile = PROFILED.has(name) ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${dirname(logPath)}`, `--cpu-prof-name=${basename(logPath, '.log')}`] : [];
  const probe = PROBED.has(name) ? ['--preload', STAGE_PROBE_PATH] : [];
  return [process.execPath, ...profile, ...probe, entry, ...args];
}

/** The processes of the Switchyard path this harness starts (RabbitMQ and Redis run outside it). */
export type StackRole = 'gateway' | 'bridge' | 'worker';

export interface StackProcess {
  readonly name: StackRole;
  readonly pid: number;
  /** Port of its HTTP endpoints (/readyz; /metrics on the bridge); 0 for the worker. */
  readonly port: number;
  /** Throws when the process has exited, so that a crash is reported as one. */
  assertAlive(): void;
  stop(): Promise<void>;
}

/**
 * Only these variables reach the processes (bench/servers.ts childEnvironment): nothing from
 * the shell can change what is measured. No APPS: the `demo` app, which allows anonymous
 * sessions.
 */
function environment(ns: Namespace, extra: Record<string, string>): Record<string, string> {
  return childEnvironment({
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    REDIS_URL,
    REDIS_KEY_PREFIX: ns.redisPrefix,
    AMQP_URL,
    AMQP_PREFIX: ns.amqpPrefix,
    RPC_QUEUE_TYPE: ns.rpcQueueType,
    ...extra,
  });
}

function handle(name: StackRole, proc: Subprocess, port: number, logPath: string): StackProcess {
  return {
    name,
    pid: proc.pid,
    port,
    assertAlive: () => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`${name} (pid ${proc.pid}) exited with ${proc.signalCode ?? `code ${proc.exitCode}`}; see ${logPath}`);
      }
    },
    stop: () => stopChild(proc, 5000),
  };
}

async function spawnService(name: 'gateway' | 'bridge', entry: string, env: Record<string, string>, port: number, logPath: string): Promise<StackProcess> {
  const proc = Bun.spawn({
    cmd: bunCommand(name, entry, logPath),
    cwd: REPO_ROOT,
    env: PROBED.has(name) ? { ...env, BENCH_PROBE_OUT: logPath.replace(/\.log$/, '.stages.json') } : env,
    // Logs (JSON lines on stdout) go to a file; a crash's stack trace (stderr) stays visible.
    stdio: ['ignore', Bun.file(logPath), 'inherit'],
  });
  track(name, proc);
  try {
    await waitReady(proc, port, logPath, name);
  } catch (error) {
    await stopChild(proc, 1000);
    throw error;
  }
  return handle(name, proc, port, logPath);
}

/** A gateway instance with the Redis backend and the AMQP job publisher. */
export function startGateway(ns: Namespace, logPath: string): Promise<StackProcess> {
  const port = freePort();
  const env = environment(ns, {
    PORT: String(port),
    INSTANCE_ID: `bench-gw-${port}`,
    // The RPC clients send far more than the default 100 frames/s per session.
    RATE_LIMIT_FRAMES_PER_SEC: '1000000',
    RATE_LIMIT_BURST: '1000000',
    // Sessions are closed by the harness before the gateway is stopped.
    DRAIN_TIMEOUT_MS: '1000',
  });
  return spawnService('gateway', 'src/main/gateway.ts', env, port, logPath);
}

export function startBridge(ns: Namespace, prefetch: number, logPath: string): Promise<StackProcess> {
  const port = freePort();
  const env = environment(ns, { BRIDGE_PORT: String(port), INSTANCE_ID: `bench-${port}`, BRIDGE_PREFETCH: String(prefetch) });
  return spawnService('bridge', 'src/main/bridge.ts', env, port, logPath);
}

/** The worker SDK in its own process; resolves once it says it is consuming. */
export async function startJobWorker(ns: Namespace, concurrency: number, deadlineEpochMs: number, logPath: string): Promise<StackProcess> {
  let ready = false;
  const proc = Bun.spawn({
    cmd: bunCommand('worker', JOB_WORKER_PATH, logPath, [AMQP_URL, ns.amqpPrefix, String(concurrency), String(deadlineEpochMs), ns.rpcQueueType]),
    cwd: REPO_ROOT,
    env: environment(ns, {}),
    stdio: ['ignore', Bun.file(logPath), 'inherit'],
    ipc: () => {
      ready = true;
    },
  });
  track('worker', proc);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!ready) {
    const problem =
      proc.exitCode !== null || proc.signalCode !== null
        ? `worker exited during startup (code ${proc.exitCode})`
        : Date.now() > deadline
          ? `worker not consuming after ${READY_TIMEOUT_MS} ms`
          : null;
    if (problem) {
      await stopChild(proc, 1000);
      throw new Error(`${problem}; see ${logPath}`);
    }
    await sleep(20);
  }
  return handle('worker', proc, 0, logPath);
}

/** Runs `fn`, then stops every process in `started` (last first), whatever happens. */
export async function withStack<T>(fn: (started: StackProcess[]) => Promise<T>): Promise<T> {
  const started: StackProcess[] = [];
  try {
    return await fn(started);
  } finally {
    for (const p of [...started].reverse()) await p.stop();
  }
}
