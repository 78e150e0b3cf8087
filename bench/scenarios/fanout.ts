/**
 * Scenario (a), fan-out throughput: N subscribers on one topic, one publisher keeping a
 * window of publishes in flight. The measured interval follows a warm-up; loss is counted
 * after it, once the subscribers have drained: every acknowledged publish must reach every
 * subscriber.
 */
import { nowMs, sleep } from '../clock.ts';
import { drain, interval, snapshot, total } from '../measure.ts';
import { withServer, type ServerKind } from '../servers.ts';
import { split, withWorkers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

const TOPIC = 'bench.fanout';
const OPEN_TIMEOUT_MS = 60_000;

export interface FanoutResult {
  subscribers: number;
  window: number;
  seconds: number;
  publishesPerSec: number;
  deliveriesPerSec: number;
  /** Over the whole run (warm-up included): acknowledged publishes x subscribers. */
  expectedDeliveries: number;
  deliveries: number;
  lost: number;
  /** Publishes still unacknowledged when the publisher stopped waiting (they may still arrive). */
  unackedPublishes: number;
  publishErrors: number;
  unexpectedCloses: number;
  serverCpuCores: number;
  /**
   * Server CPU time per delivery in the measured interval. When the generator, not the
   * server, limits deliveries/s (likely on few cores), this is the fairer comparison.
   */
  serverNsPerDelivery: number;
  generatorCpuCores: number;
  /** CPU used by other processes meanwhile (see outcome.ts DISTURBANCE). */
  otherCpuCores: number;
  /** Processes or threads started elsewhere on the machine meanwhile. */
  processesStarted: number;
  /** Kernel interrupt work charged to no process (mostly loopback TCP), in cores. */
  interruptCpuCores: number;
  serverRssMiB: number;
  openSeconds: number;
}

export function runFanout(kind: ServerKind, ctx: ScenarioContext): Promise<FanoutResult> {
  const { options: o } = ctx;
  return withServer(kind, ctx.logPath, (server) =>
    withWorkers(`${kind}-fanout`, o.workers + 1, ctx.workerDeadlineMs, async (workers) => {
      // The publisher has a process to itself, so that its acks are never queued behind deliveries.
      const publisher = workers[0]!;
      const subscriberWorkers = workers.slice(1);
      const topics = Array.from({ length: o.fanoutSubscribers }, () => TOPIC);
      const opened = await Promise.all(
        split(topics, subscriberWorkers.length).map((share, i) =>
          subscriberWorkers[i]!.request(
            { op: 'openSubscribers', url: server.wsUrl, topics: share, concurrency: o.openConcurrency, measureLatency: false },
            OPEN_TIMEOUT_MS,
          ),
        ),
      );
      const openSeconds = Math.max(...opened.map((r) => r.elapsedMs)) / 1000;
      ctx.progress(`${kind}: ${o.fanoutSubscribers} subscribers open in ${openSeconds.toFixed(2)} s; publishing`);

      await publisher.request({ op: 'startFlood', url: server.wsUrl, topic: TOPIC, window: o.fanoutWindow, payloadBytes: o.payloadBytes }, 10_000);
      await sleep(o.warmupSec * 1000);
      const from = await snapshot(server, workers);
      // Measured from when `from` read the server, not from when the busy workers answered.
      await sleep(from.serverAtMs + o.seconds * 1000 - nowMs());
      const to = await snapshot(server, workers);
      const stopped = await publisher.request({ op: 'stopPublishing', ackTimeoutMs: 5000 }, 10_000);

      const expected = stopped.acked * o.fanoutSubscribers;
      const deliveries = await drain(subscriberWorkers, expected, 2000, 30_000);
      const end = await snapshot(server, workers);
      const span = interval(from, to);
      const deliveriesPerSec = span.rate('received');
      return {
        subscribers: o.fanoutSubscribers,
        window: o.fanoutWindow,
        seconds: span.seconds,
        publishesPerSec: span.rate('acked'),
        deliveriesPerSec,
        expectedDeliveries: expected,
        deliveries,
        lost: Math.max(0, expected - deliveries),
        unackedPublishes: stopped.outstanding,
        publishErrors: total(end, 'publishErrors'),
        unexpectedCloses: total(end, 'unexpectedCloses'),
        serverCpuCores: span.serverCpuCores,
        serverNsPerDelivery: (span.serverCpuCores * 1e9) / deliveriesPerSec,
        generatorCpuCores: span.generatorCpuCores,
        otherCpuCores: span.otherCpuCores,
        processesStarted: span.processesStarted,
        interruptCpuCores: span.interruptCpuCores,
        serverRssMiB: end.serverRssBytes / 2 ** 20,
        openSeconds,
      };
    }),
  );
}
