/**
 * Starts and stops the two servers under test as separate processes on free ports of
 * 127.0.0.1: Switchyard in its default in-memory mode (the `demo` app), and the bare Bun
 * baseline. Each scenario gets a fresh process, so that one scenario's heap and CPU time
 * never show up in another's figures.
 */
import type { Subprocess } from 'bun';
import { stopChild, track } from './children.ts';
import { sleep } from './clock.ts';

export type ServerKind = 'baseline' | 'switchyard';
export const SERVER_KINDS: readonly ServerKind[] = ['baseline', 'switchyard'];

const REPO_ROOT = new URL('..', import.meta.url).pathname;
const READY_TIMEOUT_MS = 15_000;

export interface RunningServer {
  readonly kind: ServerKind;
  readonly pid: number;
  readonly port: number;
  /** WebSocket URL of the `demo` app (the baseline ignores the query). */
  readonly wsUrl: string;
  /** Throws when the process has exited, so that a crash is reported as one. */
  assertAlive(): void;
  stop(): Promise<void>;
}

/** Asks the kernel for a free port. Another process could take it before the server binds; on loopback in a bench run, none does. */
export function freePort(): number {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() });
  const port = probe.port;
  void probe.stop(true);
  if (port === undefined) throw new Error('could not find a free port');
  return port;
}

function command(kind: ServerKind): string[] {
  // What `bun start` runs, spawned directly so that the PID we measure is the server's own.
  return kind === 'switchyard' ? [process.execPath, 'src/main/gateway.ts'] : [process.execPath, 'bench/baselineServer.ts'];
}

/**
 * `vars` and, of the harness's own environment, only what a process needs to run at all: a
 * shell's APPS or REDIS_URL must not change what is measured, and runs must be reproducible.
 */
export function childEnvironment(vars: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...vars };
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'BUN_INSTALL']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * Only these variables reach the servers: a shell's APPS or REDIS_URL must not turn the
 * in-memory single instance into something else, and runs must be reproducible.
 */
export function environment(port: number, host = '127.0.0.1', extra: Record<string, string> = {}): Record<string, string> {
  return childEnvironment({
    ...extra,
    PORT: String(port),
    HOST: host,
    LOG_LEVEL: 'warn',
    // The publisher connection sends far more than the default 100 frames/s.
    RATE_LIMIT_FRAMES_PER_SEC: '1000000',
    RATE_LIMIT_BURST: '1000000',
    // Sessions are closed by the harness before the server is stopped; no need to wait 10 s.
    DRAIN_TIMEOUT_MS: '1000',
  });
}

/**
 * `host`: where the server listens. `0.0.0.0` lets the load generator reach it on many
 * loopback addresses (127.0.0.1, .2, …): one address runs out of ephemeral ports near 28,000
 * connections. The load only ever comes from this machine.
 */
export async function startServer(kind: ServerKind, logPath: string, host = '127.0.0.1', env: Record<string, string> = {}): Promise<RunningServer> {
  const port = freePort();
  const proc: Subprocess = Bun.spawn({
    cmd: command(kind),
    cwd: REPO_ROOT,
    env: environment(port, host, env),
    // Logs (JSON lines on stdout) go to a file; a crash's stack trace (stderr) stays visible.
    stdio: ['ignore', Bun.file(logPath), 'inherit'],
  });
  track(kind, proc);
  try {
    await waitReady(proc, port, logPath);
  } catch (error) {
    await stopChild(proc, 1000);
    throw error;
  }
  return {
    kind,
    pid: proc.pid,
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws?app=demo`,
    assertAlive: () => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`${kind} server (pid ${proc.pid}) exited with ${proc.signalCode ?? `code ${proc.exitCode}`}; see ${logPath}`);
      }
    },
    stop: () => stopChild(proc, 5000),
  };
}

/** Waits until the process answers /readyz on `port`; `name` is what errors call it. */
export async function waitReady(proc: Subprocess, port: number, logPath: string, name = 'server'): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${name} exited during startup (code ${proc.exitCode}); see ${logPath}`);
    }
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${name} on port ${port} not ready after ${READY_TIMEOUT_MS} ms; see ${logPath}`);
}

/**
 * Runs `fn` against a fresh server process and stops it afterwards, whatever happens. `env`:
 * variables of the server's own on top of environment()'s (a Redis store, say).
 */
export function withServer<T>(kind: ServerKind, logPath: string, fn: (server: RunningServer) => Promise<T>, host?: string, env?: Record<string, string>): Promise<T> {
  return withServers(kind, 1, logPath, ([server]) => fn(server!), host, env);
}

/** withServer for `count` servers of one kind (logs at `<logPath>.<i>` past the first); all are stopped at the end. */
export async function withServers<T>(
  kind: ServerKind,
  count: number,
  logPath: string,
  fn: (servers: RunningServer[]) => Promise<T>,
  host?: string,
  env?: Record<string, string>,
): Promise<T> {
  const servers: RunningServer[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await startServer(kind, i === 0 ? logPath : `${logPath}.${i}`, host, env));
    return await fn(servers);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}
