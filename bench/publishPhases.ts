/**
 * The publish phases of the fan-out and latency scenarios, shared by those on one server
 * (scenarios/fanout.ts, latency.ts) and those on a cluster (scenarios/clusterFanout.ts,
 * clusterLatency.ts): they differ in where the publisher sends and in what a snapshot reads,
 * not in how they measure. Each phase starts the publisher, warms up, measures, stops the
 * publisher and waits for the subscribers to drain; then come the figures every such
 * scenario reports first.
 */
import { sleep } from './clock.ts';
import { collectLatency } from './core/workerIpc.ts';
import { latencyFigures, type Histogram, type LatencyFigures } from './histogram.ts';
import { drain, markedInterval, measuredInterval, stats, total, type Interval, type Snapshot } from './measure.ts';
import type { BenchOptions } from './options.ts';
import type { ScenarioContext } from './scenarios/context.ts';
import { withWorkers, type LoadWorker } from './workerPool.ts';

export interface PublishWorkers {
  /** A process of its own, so that its acks are never queued behind deliveries. */
  publisher: LoadWorker;
  /** --workers of them. */
  subscriberWorkers: LoadWorker[];
  /** The publisher first, then the subscriber workers. */
  workers: LoadWorker[];
}

/** Runs `fn` with a fresh publisher worker and fresh subscriber workers, and stops them afterwards. */
export function withPublishWorkers<T>(prefix: string, ctx: ScenarioContext, fn: (w: PublishWorkers) => Promise<T>): Promise<T> {
  return withWorkers(prefix, ctx.options.workers + 1, ctx.workerDeadlineMs, (workers) => fn({ publisher: workers[0]!, subscriberWorkers: workers.slice(1), workers }));
}

export interface PublishPhase<S extends Snapshot> {
  publisher: LoadWorker;
  subscriberWorkers: readonly LoadWorker[];
  /** Where the publisher sends: a ws:// session, or an http:// publish API with its Authorization header. */
  target: { url: string; authorization?: string | undefined };
  topic: string;
  /** Snapshots the servers and every worker. */
  snapshot: () => Promise<S>;
}

/** The snapshots of a phase: the measured interval's ends, and after the subscribers drained. */
export interface PhaseSnapshots<S> {
  from: S;
  to: S;
  end: S;
}

export interface Flooded<S> extends PhaseSnapshots<S> {
  /** Acknowledged publishes x subscribers, and what the subscribers received. */
  expected: number;
  deliveries: number;
  /** Publishes still unacknowledged when the publisher stopped waiting. */
  unacked: number;
}

/**
 * Fan-out: --window publishes in flight to the topic's --subscribers; after the warm-up, the
 * measured interval. Then every acknowledged publish must reach every subscriber: the
 * subscribers drain until they have (or their count stops moving for 2 s).
 */
export async function floodPhase<S extends Snapshot>(p: PublishPhase<S>, o: BenchOptions, payload: FloodPayload = { bytes: o.payloadBytes }): Promise<Flooded<S>> {
  const credited = payload.creditAhead !== undefined;
  await p.publisher.request({ op: 'startFlood', ...p.target, topic: p.topic, window: o.fanoutWindow, payloadBytes: payload.bytes, binary: payload.binary === true, credited }, 10_000);
  const credit = credited ? grantCredit(p, o.fanoutSubscribers, payload.creditAhead!) : null;
  await sleep(o.warmupSec * 1000);
  const { from, to } = await measuredInterval(o.seconds, p.snapshot);
  await credit?.stop();
  const stopped = await p.publisher.request({ op: 'stop', waitMs: 5000 }, 10_000);

  const expected = stopped.acked * o.fanoutSubscribers;
  const deliveries = await drain(p.subscriberWorkers, expected, 2000, 30_000);
  const end = await p.snapshot();
  return { from, to, end, expected, deliveries, unacked: stopped.outstanding };
}

/** What a flood publishes: `bytes` of JSON (or of bytes, `binary`) per message; with `creditAhead`, under credit. */
export interface FloodPayload {
  bytes: number;
  binary?: boolean;
  /**
   * Flow control by deliveries: the publisher may run this many messages ahead of what the
   * subscribers received on average. Acks come back when a server has queued a message, not
   * when its subscribers read it; with large payloads the servers' send buffers would fill
   * (and close the sessions, closeOnBackpressureLimit) long before the publish window does.
   */
  creditAhead?: number;
}

/**
 * Grants credit to a credited flood publisher every CREDIT_TICK_MS, from the subscribers'
 * receive counts: up to what they received on average plus `ahead`. Stopped by stop().
 */
function grantCredit(p: PublishPhase<Snapshot>, subscribers: number, ahead: number): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      const received = (await stats(p.subscriberWorkers)).reduce((sum, w) => sum + w.received, 0);
      await p.publisher.request({ op: 'credit', upTo: Math.floor(received / subscribers) + ahead }, 10_000);
      await sleep(CREDIT_TICK_MS);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** How often credit is granted: often enough that the publisher rarely waits for it at a credit of 1 MiB per subscriber. */
const CREDIT_TICK_MS = 5;

/** What every fan-out scenario reports first, in this order. */
export interface FloodFigures {
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

/** `span`: the measured interval, from `flooded.from` to `flooded.to`. */
export function floodFigures(flooded: Flooded<Snapshot>, span: Interval, o: BenchOptions): FloodFigures {
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

export interface Paced<S> extends PhaseSnapshots<S> {
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
  const stopped = await p.publisher.request({ op: 'stop', waitMs: 5000 }, 10_000);
  await drain(p.subscriberWorkers, stopped.acked * o.latencySubscribers, 1000, 10_000);

  const histogram = await collectLatency(p.subscriberWorkers);
  const end = await p.snapshot();
  return { from, to, end, histogram };
}

/** What every latency scenario of a publisher reports first, in this order. */
export interface PacedFigures extends LatencyFigures {
  subscribers: number;
  ratePerSec: number;
  seconds: number;
  publishErrors: number;
  unexpectedCloses: number;
}

/** `span`: the measured interval, from `paced.from` to `paced.to`. */
export function pacedFigures(paced: Paced<Snapshot>, span: Interval, o: BenchOptions): PacedFigures {
  return {
    subscribers: o.latencySubscribers,
    ratePerSec: o.latencyRatePerSec,
    seconds: span.seconds,
    ...latencyFigures(paced.histogram, total(paced.end, 'measuredPublished') * o.latencySubscribers),
    publishErrors: total(paced.end, 'publishErrors'),
    unexpectedCloses: total(paced.end, 'unexpectedCloses'),
  };
}
