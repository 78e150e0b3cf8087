/**
 * RabbitMQ scenario (b), bridge latency: a producer publishes updates at a fixed rate
 * (persistent, confirms), each stamped with its send time; the WebSocket subscribers (or, as
 * the baseline, the bare consumer) record AMQP-publish-to-receipt latency for the updates sent
 * during the measured interval, after a warm-up.
 */
import { nowMs, sleep } from '../clock.ts';
import { Histogram, latencyFigures, type LatencyFigures } from '../histogram.ts';
import type { ServerKind } from '../servers.ts';
import { withAmqpRound } from '../amqp/round.ts';
import { AMQP_URL } from '../amqp/services.ts';
import { cpuFigures, interval, snapshot, waitForCount, type CpuFigures } from '../amqp/stackMeasure.ts';
import { expectedDeliveries, openUpdatePath } from '../amqp/updatePath.ts';
import type { ScenarioContext } from './context.ts';

export interface BridgeLatencyResult extends LatencyFigures, CpuFigures {
  subscribers: number;
  ratePerSec: number;
  seconds: number;
  publishFailures: number;
  unexpectedCloses: number;
}

export function runBridgeLatency(kind: ServerKind, ctx: ScenarioContext): Promise<BridgeLatencyResult> {
  const o = ctx.options;
  return withAmqpRound(`bridgelat-${kind}`, ctx, [], async (round) => {
    const path = await openUpdatePath(kind, round, o, true);
    const publisher = round.amqpWorker('publisher');
    await publisher.request(
      {
        op: 'startUpdates',
        amqpUrl: AMQP_URL,
        exchange: round.names.updatesExchange,
        app: 'demo',
        topics: path.topics,
        mode: 'paced',
        window: 1,
        ratePerSec: o.bridgeRatePerSec,
        payloadBytes: o.payloadBytes,
        idPrefix: round.ns.amqpPrefix,
        queue: round.names.updatesQueue,
        maxBacklog: 1,
      },
      10_000,
    );
    ctx.progress(`${kind}: publishing ${o.bridgeRatePerSec} updates/s`);
    await sleep(o.latencyWarmupSec * 1000);
    await publisher.request({ op: 'mark', measured: true }, 10_000);
    const probes = round.probes(path.bridgePort);
    const from = await snapshot(probes);
    await sleep(from.atMs + o.seconds * 1000 - nowMs());
    const to = await snapshot(probes);
    await publisher.request({ op: 'mark', measured: false }, 10_000);
    await publisher.request({ op: 'stop', waitMs: 5000 }, 10_000);
    const published = await publisher.request({ op: 'stats' }, 10_000);

    // Every measured update must have arrived (or stopped arriving) before the histograms are read.
    const histogram = new Histogram();
    let expectedSamples: number;
    if (path.bareConsumer) {
      expectedSamples = published.measuredSent;
      await waitForCount(path.consumed, published.done, 1000, 10_000);
      histogram.add((await path.bareConsumer.request({ op: 'takeLatency' }, 30_000)).buckets);
    } else {
      expectedSamples = expectedDeliveries(path, published.measuredPerTopic);
      await waitForCount(path.delivered, expectedDeliveries(path, published.donePerTopic), 1000, 10_000);
      for (const worker of path.subscriberWorkers) histogram.add((await worker.request({ op: 'latency' }, 30_000)).buckets);
    }
    const end = await snapshot(probes);
    const span = interval(from, to);
    return {
      subscribers: kind === 'baseline' ? 0 : o.bridgeSubscribers,
      ratePerSec: o.bridgeRatePerSec,
      seconds: span.seconds,
      ...latencyFigures(histogram, expectedSamples),
      publishFailures: published.failed,
      unexpectedCloses: end.subscribers.reduce((n, s) => n + s.unexpectedCloses, 0) + end.amqpWorkers.reduce((n, s) => n + s.unexpectedCloses, 0),
      ...cpuFigures(span),
    };
  });
}
