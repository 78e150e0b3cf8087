/**
 * The health check that proves delivery, on real gateway processes and a real Redis. Gateway
 * A talks to Redis through a TCP proxy; the test freezes it: the connection stays open and
 * nothing passes, so every connection looks healthy and only the delivery probe can tell.
 * A's /readyz turns red (with the probe's reason) and its probe metric says so; a client of
 * A resumes on B meanwhile and gets every message published during the freeze; once the
 * proxy flows again A turns green, and A's own subscriber gets everything too, once, in order.
 */
import { afterAll, expect, test } from 'bun:test';
import { waitFor } from '../../src/lib/waitFor.ts';
import { PublishLog, ResumingClient, sequenceProblems, TestCluster } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { startTcpProxy } from '../support/tcpProxy.ts';
import { metricValue } from '../support/metrics.ts';

const prefix = uniquePrefix('probe');
const cluster = new TestCluster(prefix, {
  APPS: JSON.stringify([APP_A]),
  DRAIN_TIMEOUT_MS: '500',
  PROBE_INTERVAL_MS: '100',
  PROBE_TIMEOUT_MS: '1500',
});
afterAll(() => cluster.dispose());

async function readyz(http: string): Promise<{ status: number; reasons: string[] }> {
  const res = await fetch(`${http}/readyz`);
  const body = (await res.json()) as { reasons?: string[] };
  return { status: res.status, reasons: body.reasons ?? [] };
}

test('a frozen path to Redis turns /readyz red through the probe alone, green again after; no message is lost', async () => {
  await requireRedis();
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
  const stayer = new ResumingClient(['t'], () => []);
  const mover = new ResumingClient(['t'], () => [cluster.get('pb-b').wsUrl(APP_A.id)]);
  try {
    const a = await cluster.start('pb-a', { REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    const b = await cluster.start('pb-b');
    await waitFor(async () => (await metricValue(a.http, 'switchyard_probe_round_trip_seconds{path="redis"}')) !== null, { what: 'a first probe back on A' });
    await stayer.connect(a.wsUrl(APP_A.id));
    await mover.connect(a.wsUrl(APP_A.id));
    const log = new PublishLog();
    await log.publishMany(b.http, APP_A, 't', 5, { label: 'before', concurrency: 1 });
    await waitFor(() => stayer.count('t') === 5 && mover.count('t') === 5, { what: 'the first five on A' });

    proxy.freeze(true);
    await log.publishMany(b.http, APP_A, 't', 20, { label: 'frozen', concurrency: 2 });
    await waitFor(async () => (await readyz(a.http)).status === 503, { timeoutMs: 10_000, what: 'A unready' });
    const red = await readyz(a.http);
    // Nothing else is wrong: the connection is open, only the probe notices.
    expect(red.reasons).toHaveLength(1);
    expect(red.reasons[0]).toContain('delivery probe');
    expect(await metricValue(a.http, 'switchyard_probe_healthy{path="redis"}')).toBe(0);
    expect((await readyz(b.http)).status).toBe(200);

    // A client that gives up on the unready instance resumes on B with every message.
    mover.close();
    const moved = new ResumingClient(['t'], () => []);
    for (const m of mover.received.get('t')!) moved.received.get('t')!.push(m);
    await moved.connect(b.wsUrl(APP_A.id));
    await waitFor(() => moved.count('t') === 25, { what: 'the resumed client to catch up on B' });
    expect(sequenceProblems(moved.received.get('t')!, log.expected('t'))).toEqual([]);
    moved.close();

    proxy.freeze(false);
    await waitFor(async () => (await readyz(a.http)).status === 200, { timeoutMs: 15_000, what: 'A ready again' });
    expect(await metricValue(a.http, 'switchyard_probe_healthy{path="redis"}')).toBe(1);
    await log.publishMany(b.http, APP_A, 't', 5, { label: 'after', concurrency: 1 });
    await waitFor(() => stayer.count('t') === 30, { timeoutMs: 10_000, what: 'everything on the client that stayed on A' });
    expect(sequenceProblems(stayer.received.get('t')!, log.expected('t'))).toEqual([]);
    expect(stayer.failures).toEqual([]);
  } finally {
    stayer.close();
    mover.close();
    await cluster.killAll();
    await proxy.close();
  }
}, 60_000);
