/** Spawns real gateway processes (`bun src/main/gateway.ts`) for tests, and stops them by PID. */
import type { Subprocess } from 'bun';
import { waitFor } from '../../src/lib/waitFor.ts';
import { collectLines } from './lines.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface GatewayProcess {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  port: number;
  /** Lines the process wrote to stdout so far. */
  output: string[];
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** OPERATOR_TOKEN of every spawned gateway (unless the test sets its own): GET /api/instances needs it. */
export const TEST_OPERATOR_TOKEN = 'operator-token-of-the-tests';

/** Ports this test process has handed out: the OS may offer a released port again at once. */
const handedOut = new Set<number>();

/**
 * Asks the OS for a free port by binding port 0 and releasing it, never the same port twice
 * in one test run. Without that, two processes started together could be given one port:
 * the second fails to bind, and its readiness probe is answered by the first. That is the
 * likely cause of one failure of the multi-instance kill test, where none of the clients
 * opened on k3's URL was welcomed by k3.
 */
export function freePort(): number {
  for (;;) {
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
    const port = server.port!;
    server.stop(true);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Starts a gateway on a free port, or on `env.PORT` (one reserved with freePort() earlier). */
export async function spawnGateway(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const port = env.PORT ? Number(env.PORT) : freePort();
  const proc = Bun.spawn(['bun', 'src/main/gateway.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', OPERATOR_TOKEN: TEST_OPERATOR_TOKEN, ...env, PORT: String(port) },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const output: string[] = [];
  void collectLines(proc.stdout, output);
  const handle: GatewayProcess = {
    proc,
    port,
    output,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`gateway exited with ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
        return fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      },
      { timeoutMs: 10_000, what: `gateway on port ${port}` },
    );
  } catch (error) {
    await handle.stop('SIGKILL');
    throw error;
  }
  return handle;
}
