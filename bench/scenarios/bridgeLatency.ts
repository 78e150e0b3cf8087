/**
 * RabbitMQ scenario (b), bridge latency: a producer publishes updates at a fixed rate
 * (persistent, confirms), each stamped with its send time; the WebSocket subscribers (or, as
 * the baseline, the bare consumer) record AMQP-publish-to-receipt latency for the updates sent
 * during the measured interval, after a warm-up.
 */
import { sleep } from '../clock.ts';
import { latencyFigures, type LatencyFigures } from '../histogram.ts';
import { collectLatency } from '../core/workerIpc.ts';
import { markedInterval, waitForCount } from '../measure.ts';
import type { ServerKind } from '../servers.ts';
import { withAmqpRound } from '../amqp/round.ts';
import { cpuFigures, interval, snapshot, unexpectedCloses, type CpuFigures } from '../amqp/stackMeasure.ts';
import { expectedDeliveries, openUpdatePath, startUpdatePublisher } from '../amqp/updatePath.ts';
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
    const publisher = await startUpdatePublisher(round, path, { mode: 'paced', window: 1, ratePerSec: o.bridgeRatePerSec, maxBacklog: 1 }, o.payloadBytes);
    ctx.progress(`${kind}: publishing ${o.bridgeRatePerSec} updates/s`);
    await sleep(o.latencyWarmupSec * 1000);
    const probes = round.probes(path.bridgePort);
    const { from, to } = await markedInterval(publisher, o.seconds, () => snapshot(probes));
    await publisher.request({ op: 'stop', waitMs: 5000 }, 10_000);
    const published = await publisher.request({ op: 'stats' }, 10_000);

    // Every measured update must have arrived (or stopped arriving) before the histograms are read.
    let expectedSamples: number;
    if (path.bareConsumer) {
      expectedSamples = published.measuredSent;
      await waitForCount(path.consumed, published.done, 1000, 10_000);
    } else {
      expectedSamples = expectedDeliveries(path, published.measuredPerTopic);
      await waitForCount(path.delivered, expectedDeliveries(path, published.donePerTopic), 1000, 10_000);
    }
    const histogram = await collectLatency(path.bareConsumer ? [path.bareConsumer] : path.subscriberWorkers);
    const end = await snapshot(probes);
    const span = interval(from, to);
    return {
      subscribers: kind === 'baseline' ? 0 : o.bridgeSubscribers,
      ratePerSec: o.bridgeRatePerSec,
      seconds: span.seconds,
      ...latencyFigures(histogram, expectedSamples),
      publishFailures: published.failed,
      unexpectedCloses: unexpectedCloses(end),
      ...cpuFigures(span),
    };
  });
}
