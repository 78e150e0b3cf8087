/**
 * RabbitMQ scenario (a), bridge throughput: a producer floods the updates exchange
 * (persistent, confirms, a bounded number unconfirmed) and the updates are consumed either
 * by the bridge path (bridge -> Redis -> gateway -> WebSocket subscribers) or, as the
 * baseline, by a bare amqplib consume-and-ack loop on the same kind of queue with the same
 * prefetch: the broker's own ceiling on this machine. Consumed updates/s of the two give the
 * ratio. Loss is counted after the publisher stops, once everything has drained: every
 * confirmed update must be consumed, and on the bridge path reach every subscriber of its
 * topic.
 */
import { sleep } from '../clock.ts';
import { measuredInterval, waitForCount } from '../measure.ts';
import type { ServerKind } from '../servers.ts';
import { withAmqpRound } from '../amqp/round.ts';
import { cpuFigures, interval, snapshot, unexpectedCloses, type CpuFigures } from '../amqp/stackMeasure.ts';
import { expectedDeliveries, openUpdatePath, startUpdatePublisher } from '../amqp/updatePath.ts';
import type { ScenarioContext } from './context.ts';

/** After the publisher stops: how long the count may stand still, and how long draining may take at most. */
const DRAIN_QUIET_MS = 3000;
const DRAIN_MAX_MS = 60_000;

export interface BridgeThroughputResult extends CpuFigures {
  subscribers: number;
  topics: number;
  window: number;
  maxBacklog: number;
  prefetch: number;
  seconds: number;
  /** Updates taken off the queue per second: stored by the bridge, or acknowledged by the bare consumer. */
  consumedPerSec: number;
  /** Updates confirmed by the broker per second. */
  confirmedPerSec: number;
  /** Message frames received by the WebSocket subscribers per second (0 on the baseline). */
  deliveriesPerSec: number;
  /** Growth of the queue's ready messages per second: > 0 when the consumer, not the producer, is the limit. */
  backlogPerSec: number;
  /** Over the whole run (warm-up included). */
  confirmed: number;
  consumed: number;
  expectedDeliveries: number;
  deliveries: number;
  /** Confirmed updates never consumed, plus deliveries missing at subscribers. */
  lost: number;
  deadLettered: number;
  publishFailures: number;
  unconfirmedAtStop: number;
  unexpectedCloses: number;
}

export function runBridgeThroughput(kind: ServerKind, ctx: ScenarioContext): Promise<BridgeThroughputResult> {
  const o = ctx.options;
  return withAmqpRound(`bridge-${kind}`, ctx, [], async (round) => {
    const path = await openUpdatePath(kind, round, o, false);
    const publisher = await startUpdatePublisher(round, path, { mode: 'flood', window: o.amqpWindow, ratePerSec: 1, maxBacklog: o.amqpBacklog }, o.payloadBytes);
    ctx.progress(`${kind}: publishing with ${o.amqpWindow} unconfirmed and ${o.amqpBacklog} queued at most`);
    await sleep(o.warmupSec * 1000);
    const probes = round.probes(path.bridgePort);
    const depthFrom = await round.admin.queueInfo(round.names.updatesQueue);
    const { from, to } = await measuredInterval(o.seconds, () => snapshot(probes));
    const depthTo = await round.admin.queueInfo(round.names.updatesQueue);
    const stopped = await publisher.request({ op: 'stop', waitMs: 10_000 }, 15_000);
    const published = await publisher.request({ op: 'stats' }, 10_000);

    const confirmed = published.done;
    const consumed = await waitForCount(path.consumed, confirmed, DRAIN_QUIET_MS, DRAIN_MAX_MS);
    const expected = expectedDeliveries(path, published.donePerTopic);
    const deliveries = await waitForCount(path.delivered, expected, DRAIN_QUIET_MS, DRAIN_MAX_MS);
    const end = await snapshot(probes);
    const span = interval(from, to);
    const consumedPerSec = kind === 'baseline' ? span.amqpRate('consumed') : span.bridgeStoredPerSec;
    ctx.progress(`${kind}: ${Math.round(consumedPerSec).toLocaleString('en-US')} updates/s consumed`);
    return {
      subscribers: kind === 'baseline' ? 0 : o.bridgeSubscribers,
      topics: o.bridgeTopics,
      window: o.amqpWindow,
      maxBacklog: o.amqpBacklog,
      prefetch: o.amqpPrefetch,
      seconds: span.seconds,
      consumedPerSec,
      confirmedPerSec: span.amqpRate('done'),
      deliveriesPerSec: span.subscriberRate('received'),
      backlogPerSec: (depthTo.messages - depthFrom.messages) / span.seconds,
      confirmed,
      consumed,
      expectedDeliveries: expected,
      deliveries,
      lost: Math.max(0, confirmed - consumed) + Math.max(0, expected - deliveries),
      deadLettered: end.bridge?.deadLettered ?? 0,
      publishFailures: published.failed,
      unconfirmedAtStop: stopped.outstanding,
      unexpectedCloses: unexpectedCloses(end),
      ...cpuFigures(span),
    };
  });
}
