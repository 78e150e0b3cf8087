/**
 * Spawns real bridge processes (`bun src/main/bridge.ts`) for tests, stops them by PID, and
 * reads their health, readiness and metrics endpoints. Every line the process writes (stdout
 * and stderr) is kept, so that a failed wait can show what the bridge said.
 */
import type { Subprocess } from 'bun';
import { waitFor } from '../../src/lib/waitFor.ts';
import { freePort } from './process.ts';
import { collectLines } from './lines.ts';

export interface BridgeProcess {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Port of /healthz, /readyz and /metrics. */
  port: number;
  /** Lines written so far (stdout, then stderr prefixed with `stderr: `), in arrival order per stream. */
  output: string[];
  /** GET /readyz: status, reasons (why not ready) and warnings (wrong without being unready). */
  readiness(): Promise<{ status: number; reasons: string[]; warnings: string[] }>;
  /** GET /metrics parsed into `name{labels}` -> value. */
  metrics(): Promise<Map<string, number>>;
  /** Signals the process (if still running) and resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

const ROOT = new URL('../..', import.meta.url).pathname;


/** Parses the Prometheus text format (no timestamps) into `name{labels}` -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sep = line.lastIndexOf(' ');
    out.set(line.slice(0, sep), Number(line.slice(sep + 1)));
  }
  return out;
}

/**
 * Starts a bridge with `env` (REDIS_URL, AMQP_URL, AMQP_PREFIX, APPS, … are the caller's)
 * and resolves once it is ready (or, with `until: 'healthy'`, once it answers /healthz).
 */
export async function spawnBridge(env: Record<string, string>, options: { until?: 'ready' | 'healthy'; timeoutMs?: number } = {}): Promise<BridgeProcess> {
  const port = freePort();
  const proc = Bun.spawn(['bun', 'src/main/bridge.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', BRIDGE_PORT: String(port), ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const output: string[] = [];
  void collectLines(proc.stdout, output);
  void collectLines(proc.stderr, output, 'stderr: ');
  const base = `http://127.0.0.1:${port}`;
  const handle: BridgeProcess = {
    proc,
    port,
    output,
    readiness: async () => {
      const res = await fetch(`${base}/readyz`);
      const body = (await res.json()) as { ready: boolean; reasons?: string[]; warnings?: string[] };
      return { status: res.status, reasons: body.reasons ?? [], warnings: body.warnings ?? [] };
    },
    metrics: async () => {
      const res = await fetch(`${base}/metrics`);
      if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
      return parseMetrics(await res.text());
    },
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
  const path = options.until === 'healthy' ? '/healthz' : '/readyz';
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`bridge exited with ${proc.exitCode}:\n${output.join('\n')}`);
        return fetch(`${base}${path}`).then((r) => r.ok, () => false);
      },
      { timeoutMs: options.timeoutMs ?? 15_000, intervalMs: 25, what: `bridge on port ${port} to answer ${path}` },
    );
  } catch (error) {
    await handle.stop('SIGKILL');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${output.slice(-30).join('\n')}`);
  }
  return handle;
}

/** The last `n` lines of each process, labelled, for failure messages. */
export function tails(processes: readonly { name: string; output: readonly string[] }[], n = 30): string {
  return processes.map((p) => `--- ${p.name} ---\n${p.output.slice(-n).join('\n')}`).join('\n');
}
