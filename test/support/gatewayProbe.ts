/**
 * What a test asks a running gateway over HTTP (in-process or spawned): readiness, the
 * instances it sees, and publishing when its readiness allows it. Failures of waits carry
 * the gateways' recent log lines, so that a timeout explains itself.
 */
import { waitFor } from '../../src/lib/waitFor.ts';
import { TEST_OPERATOR_TOKEN, type GatewayProcess } from './process.ts';

/** Status and reasons of GET /readyz. */
export async function readiness(port: number): Promise<{ status: number; reasons: string[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await res.json()) as { ready: boolean; reasons?: string[] };
  return { status: res.status, reasons: body.reasons ?? [] };
}

/** Instance IDs listed by GET /api/instances (with the tests' operator token), sorted. */
export async function instanceIds(port: number): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/instances`, { headers: { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` } });
  if (!res.ok) throw new Error(`GET /api/instances: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { instances: { id: string }[] };
  return body.instances.map((i) => i.id).sort();
}

/** POST /api/apps/:app/publish; the status and, on 200, the offset. */
export async function tryPublish(port: number, app: { id: string; secret: string }, topic: string, data: unknown): Promise<{ status: number; offset: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/apps/${app.id}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ topic, data }),
  });
  const body = (await res.json()) as { offset?: string };
  return { status: res.status, offset: res.ok ? (body.offset ?? null) : null };
}

/**
 * Publishes once the instance takes it: a 503 (not ready) publishes nothing, so it is safe to
 * ask again; any other failure is thrown.
 */
export async function publishWhenReady(port: number, app: { id: string; secret: string }, topic: string, data: unknown, timeoutMs = 10_000): Promise<string> {
  return waitFor(
    async () => {
      const { status, offset } = await tryPublish(port, app, topic, data);
      if (status === 503) return null;
      if (status !== 200 || offset === null) throw new Error(`publish to ${topic} on port ${port}: HTTP ${status}`);
      return offset;
    },
    { timeoutMs, intervalMs: 25, what: `instance on port ${port} to take a publish` },
  );
}

/** waitFor, with the last lines of each gateway's log appended to a timeout. */
export async function waitWithLogs<T>(
  gateways: readonly GatewayProcess[],
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what: string },
): Promise<NonNullable<T>> {
  try {
    return await waitFor(check, { intervalMs: 25, ...options });
  } catch (error) {
    const logs = gateways.map((g) => `--- gateway on port ${g.port} ---\n${g.output.slice(-25).join('\n')}`).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`);
  }
}
