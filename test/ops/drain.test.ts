/**
 * Paced drain, on two real gateway processes and a real Redis: 2,000 sessions on instance A,
 * A gets SIGTERM while a sequence is published to their topic. A tells its sessions to
 * reconnect elsewhere (4000) spread over DRAIN_WINDOW_MS, not all at once; every session
 * ends up on B, resumed with `since`, and has every message once and in order; A exits 0
 * and leaves the registry.
 */
import { afterAll, expect, test } from 'bun:test';
import { CloseCode } from '../../src/protocol/codes.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { PublishLog, ResumingClient, sequenceProblems, TestCluster } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { metricValue } from '../support/metrics.ts';

const SESSIONS = 2000;
const DRAIN_WINDOW_MS = 4000;
const prefix = uniquePrefix('drain');
const cluster = new TestCluster(prefix, {
  APPS: JSON.stringify([APP_A]),
  DRAIN_TIMEOUT_MS: '15000',
  DRAIN_WINDOW_MS: String(DRAIN_WINDOW_MS),
  // 2,000 clients from one test process exceed the default per-session rate limit by nothing, but their resubscribes come fast.
  RATE_LIMIT_FRAMES_PER_SEC: '1000',
});
afterAll(() => cluster.dispose());

test(`a drain moves ${SESSIONS} sessions to the other instance at the configured pace, losing nothing`, async () => {
  await requireRedis();
  const [a, b] = await cluster.startAll(['dr-a', 'dr-b']);
  const clients: ResumingClient[] = [];
  try {
    for (let i = 0; i < SESSIONS; i += 100) {
      const batch = Array.from({ length: Math.min(100, SESSIONS - i) }, () => new ResumingClient(['seq'], () => [b!.wsUrl(APP_A.id)]));
      await Promise.all(batch.map((c) => c.connect(a!.wsUrl(APP_A.id))));
      clients.push(...batch);
    }
    expect(await metricValue(a!.http, `switchyard_sessions{app="${APP_A.id}"}`)).toBe(SESSIONS);

    const log = new PublishLog();
    await log.publishMany(b!.http, APP_A, 'seq', 5, { label: 'before', concurrency: 1 });
    const stopped = cluster.stop('dr-a');
    // Published while A drains: some clients get these on A, the rest by replay on B.
    await log.publishMany(b!.http, APP_A, 'seq', 40, { label: 'during', concurrency: 1 });
    expect(await stopped).toBe(0);
    await log.publishMany(b!.http, APP_A, 'seq', 5, { label: 'after', concurrency: 1 });

    await waitFor(() => clients.every((c) => c.settled && c.instanceId === 'dr-b' && c.count('seq') === 50), {
      timeoutMs: 30_000,
      what: 'every client resumed on B with all 50 messages',
    });
    const expected = log.expected('seq');
    for (const c of clients) {
      expect(c.failures).toEqual([]);
      expect(sequenceProblems(c.received.get('seq')!, expected)).toEqual([]);
      expect(c.connections[0]!.closeCode).toBe(CloseCode.Draining);
    }
    expect(await metricValue(b!.http, `switchyard_sessions{app="${APP_A.id}"}`)).toBe(SESSIONS);
    expect(await cluster.inRegistry('dr-a')).toBe(false);

    // The pace: the notices are spread over the window, not sent at once. (The client sees
    // them late when its own process is busy, which can only bunch them, never spread them.)
    const closes = clients.map((c) => c.connections[0]!.closedAtMs!).sort((x, y) => x - y);
    const spreadMs = closes.at(-1)! - closes[0]!;
    expect(spreadMs).toBeGreaterThan(DRAIN_WINDOW_MS / 2);
    const binMs = DRAIN_WINDOW_MS / 8;
    const bins = new Map<number, number>();
    for (const t of closes) bins.set(Math.floor((t - closes[0]!) / binMs), (bins.get(Math.floor((t - closes[0]!) / binMs)) ?? 0) + 1);
    const share = SESSIONS / 8;
    expect(Math.max(...bins.values())).toBeLessThanOrEqual(3 * share);
  } finally {
    for (const c of clients) c.close();
    await cluster.killAll();
  }
}, 120_000);
