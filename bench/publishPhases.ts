/**
 * The publish phases of the fan-out and latency scenarios, shared by those on one server
 * (scenarios/fanout.ts, latency.ts) and those on a cluster (scenarios/clusterFanout.ts,
 * clusterLatency.ts): they differ in where the publisher sends and in what a snapshot reads,
 * not in how they measure. Each phase starts the publisher, warms up, measures, stops the
 * publisher and waits for the subscribers to drain.
 */
import { sleep } from './clock.ts';
import { Histogram } from './histogram.ts';
import { drain, markedInterval, measuredInterval, total, type Interval, type Snapshot } from './measure.ts';
import type { BenchOptions } from './options.ts';
import type { LoadWorker } from './workerPool.ts';

export interface PublishPhase<S extends Snapshot> {
  /** A worker of its own, so that its acks never wait behind deliveries. */
  publisher: LoadWorker;
  subscriberWorkers: readonly LoadWorker[];
  /** Where the publisher sends: a ws:// session, or an http:// publish API with its Authorization header. */
  target: { url: string; authorization?: string | undefined };
  topic: string;
  /** Snapshots the servers and every worker. */
  snapshot: () => Promise<S>;
}

export interface Flooded<S> {
  from: S;
  to: S;
  /** After the subscribers drained. */
  end: S;
  /** Acknowledged publishes x subscribers, and what the subscribers received. */
  expected: number;
  deliveries: number;
  /** Publishes still unacknowledged when the publisher stopped waiting (they may still arrive). */
  unacked: number;
}

/**
 * Fan-out: --window publishes in flight to the topic's --subscribers; after the warm-up, the
 * measured interval. Then every acknowledged publish must reach every subscriber: the
 * subscribers drain until they have (or their count stops moving for 2 s).
 */
export async function floodPhase<S extends Snapshot>(p: PublishPhase<S>, o: BenchOptions): Promise<Flooded<S>> {
  await p.publisher.request({ op: 'startFlood', ...p.target, topic: p.topic, window: o.fanoutWindow, payloadBytes: o.payloadBytes }, 10_000);
  await sleep(o.warmupSec * 1000);
  const { from, to } = await measuredInterval(o.seconds, p.snapshot);
  const stopped = await p.publisher.request({ op: 'stopPublishing', ackTimeoutMs: 5000 }, 10_000);

  const expected = stopped.acked * o.fanoutSubscribers;
  const deliveries = await drain(p.subscriberWorkers, expected, 2000, 30_000);
  const end = await p.snapshot();
  return { from, to, end, expected, deliveries, unacked: stopped.outstanding };
}

/** What every fan-out scenario reports first, in this order. */
export interface DeliveryFigures {
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
}

export function deliveryFigures(flooded: Flooded<Snapshot>, span: Interval, o: BenchOptions): DeliveryFigures {
  return {
    subscribers: o.fanoutSubscribers,
    window: o.fanoutWindow,
    seconds: span.seconds,
    publishesPerSec: span.rate('acked'),
    deliveriesPerSec: span.rate('received'),
    expectedDeliveries: flooded.expected,
    deliveries: flooded.deliveries,
    lost: Math.max(0, flooded.expected - flooded.deliveries),
    unackedPublishes: flooded.unacked,
    publishErrors: total(flooded.end, 'publishErrors'),
    unexpectedCloses: total(flooded.end, 'unexpectedCloses'),
  };
}

export interface Paced<S> {
  from: S;
  to: S;
  /** After the subscribers drained. */
  end: S;
  /** Publish-to-receipt latency of the measured publishes, over every subscriber. */
  histogram: Histogram;
}

/**
 * Latency: --rate publishes per second to the topic's --latency-subscribers, each stamped
 * with its send time; after the --latency-warmup, the publishes of the measured interval are
 * marked, and the subscribers record latency for those only. Their histograms are collected
 * once they have drained.
 */
export async function pacedPhase<S extends Snapshot>(p: PublishPhase<S>, o: BenchOptions): Promise<Paced<S>> {
  await p.publisher.request({ op: 'startPaced', ...p.target, topic: p.topic, ratePerSec: o.latencyRatePerSec, payloadBytes: o.payloadBytes }, 10_000);
  await sleep(o.latencyWarmupSec * 1000);
  const { from, to } = await markedInterval(p.publisher, o.seconds, p.snapshot);
  const stopped = await p.publisher.request({ op: 'stopPublishing', ackTimeoutMs: 5000 }, 10_000);
  await drain(p.subscriberWorkers, stopped.acked * o.latencySubscribers, 1000, 10_000);

  const histogram = new Histogram();
  for (const worker of p.subscriberWorkers) histogram.add((await worker.request({ op: 'latency' }, 30_000)).buckets);
  const end = await p.snapshot();
  return { from, to, end, histogram };
}
