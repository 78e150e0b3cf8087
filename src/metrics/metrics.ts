/**
 * The metrics of one process (a gateway instance or the bridge), in the Prometheus text
 * format: the only file that imports prom-client. Built once by the entry point and passed
 * to the parts that record. Adding a metric is one line below; the parts record into it.
 *
 * Two ways to record. Cold paths call a metric directly (`metrics.redisReconnects.inc()`).
 * Hot paths (every client frame, every fan-out) keep plain numbers of their own, and a
 * collector (`onCollect`) moves them into the metrics when /metrics is scraped: nothing
 * runs per subscriber, and a frame costs one addition. Labels are bounded: app IDs come from
 * configuration, codes from the code tables; never a topic, a user or a session.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type { Counter, Gauge, Histogram };

/** Seconds; from well under a millisecond (same-machine inbox) to multi-second stalls. */
const LATENCY_BUCKETS_SEC = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Jobs run from milliseconds to minutes (RPC_MAX_TIMEOUT_MS). */
const JOB_BUCKETS_SEC = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class Metrics {
  readonly registry = new Registry();
  private readonly collectors: (() => void | Promise<void>)[] = [];

  constructor(options: { processMetrics?: boolean } = {}) {
    // CPU, memory, event-loop lag of the process: on for the entry points, off in tests that build many.
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_process_' });
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram(name: string, help: string, buckets: number[], labelNames: string[] = []): Histogram {
    return new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }

  /** Runs before every scrape: moves a part's own numbers into the metrics. */
  onCollect(collect: () => void | Promise<void>): void {
    this.collectors.push(collect);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text a scrape gets. A collector that fails leaves its metrics as they were. */
  async render(): Promise<string> {
    await Promise.all(this.collectors.map(async (collect) => {
      try {
        await collect();
      } catch {
        // A store that does not answer must not fail the scrape: the other metrics still matter most then.
      }
    }));
    return this.registry.metrics();
  }

  /** The value of a metric without labels, or the sum over its labels (for the dashboard and tests). */
  async value(metric: Counter | Gauge): Promise<number> {
    const { values } = await metric.get();
    return values.reduce((sum, v) => sum + v.value, 0);
  }
}

/** Both processes' connections to Redis and RabbitMQ. */
class ConnectionMetrics extends Metrics {
  // --- connections ---------------------------------------------------------------------
  readonly redisReconnects = this.counter('switchyard_redis_reconnects_total', 'Times the Redis connection came back after a loss.');
  readonly amqpReconnects = this.counter('switchyard_amqp_reconnects_total', 'Times the RabbitMQ connection came back after a loss.');
}

/** A gateway instance's metrics. */
export class GatewayMetrics extends ConnectionMetrics {
  // --- gateway: sessions and frames --------------------------------------------------
  readonly sessions = this.gauge('switchyard_sessions', 'Sessions connected to this instance, by app.', ['app']);
  readonly subscriptions = this.gauge('switchyard_subscriptions', 'Topic subscriptions of the sessions on this instance.');
  readonly topics = this.gauge('switchyard_topics', 'Distinct topics with subscribers on this instance.');
  readonly framesIn = this.counter('switchyard_frames_in_total', 'Frames received from clients.');
  readonly framesOut = this.counter('switchyard_frames_out_total', 'Frames sent to one client at a time (acks, errors, replies, replayed messages).');
  readonly messagesEmitted = this.counter('switchyard_messages_emitted_total', 'Topic messages fanned out on this instance (one per message and topic, not per subscriber).');
  readonly messagesDelivered = this.counter('switchyard_messages_delivered_total', 'Topic messages handed to local subscribers by fan-out (one per subscriber).');
  readonly errors = this.counter('switchyard_errors_total', 'Error frames sent to clients, by error code.', ['code']);
  readonly closes = this.counter('switchyard_session_closes_total', 'Closed WebSocket sessions, by close code (codes outside the protocol tables count as "other").', ['code']);
  // --- gateway: inbox and delivery ---------------------------------------------------
  readonly inboxPending = this.gauge('switchyard_inbox_pending_entries', 'Inbox entries read but not acknowledged yet.');
  readonly inboxLag = this.gauge('switchyard_inbox_lag_entries', 'Inbox entries not read yet.');
  readonly inboxBatches = this.counter('switchyard_inbox_batches_total', 'Batches of envelopes read from the inbox.');
  readonly deliveryLatency = this.histogram(
    'switchyard_publish_to_delivery_seconds',
    'From publish (the publisher\'s clock) to fan-out on this instance (its clock), per topic message.',
    LATENCY_BUCKETS_SEC,
  );
  // --- gateway: the delivery probe (docs/operations.md) ------------------------------
  readonly probeRoundTrip = this.gauge('switchyard_probe_round_trip_seconds', 'Round trip of the last probe that came back, by path.', ['path']);
  readonly probeAge = this.gauge('switchyard_probe_last_success_age_seconds', 'Seconds since a probe last came back, by path.', ['path']);
  readonly probeHealthy = this.gauge('switchyard_probe_healthy', '1 when probes come back within PROBE_TIMEOUT_MS, by path.', ['path']);
  readonly probesSent = this.counter('switchyard_probes_sent_total', 'Probes sent, by path.', ['path']);
  readonly probesFailed = this.counter('switchyard_probes_failed_total', 'Probes that could not be sent, by path.', ['path']);
  readonly ready = this.gauge('switchyard_ready', '1 while /readyz answers 200.');
  readonly drainReconnectsSent = this.counter('switchyard_drain_disconnects_total', 'Sessions told to reconnect elsewhere (4000) by a drain.');
  // --- jobs ----------------------------------------------------------------------------
  readonly jobDuration = this.histogram('switchyard_job_duration_seconds', 'From a job\'s publish to its result, error or timeout, by outcome.', JOB_BUCKETS_SEC, ['outcome']);
}

/** The bridge's metrics. */
export class BridgeMetrics extends ConnectionMetrics {
  // --- updates and replies --------------------------------------------------------------------------
  readonly bridgeStored = this.counter('switchyard_bridge_updates_stored_total', 'Updates stored in history and routed to inboxes.');
  readonly bridgeDeadLettered = this.counter('switchyard_bridge_dead_lettered_total', 'Messages moved to the dead-letter queue, by reason.', ['reason']);
  readonly bridgeRepliesRouted = this.counter('switchyard_bridge_replies_routed_total', 'Job replies appended to the inbox of their session.');
  readonly bridgeRepliesOrphaned = this.counter('switchyard_bridge_replies_orphaned_total', 'Job replies for sessions that are gone.');
  readonly bridgeReady = this.gauge('switchyard_bridge_ready', '1 while the bridge\'s /readyz answers 200.');
  readonly bridgeGatewayInstances = this.gauge('switchyard_bridge_gateway_instances', 'Live gateway instances under the key prefix at the last check (-1 before the first).');

}

/**
 * A counter kept as a plain number on a hot path, moved into a prom-client counter by a
 * collector: `add()` is one addition; `flush()` increments the counter by what was added since.
 */
export class HotCount {
  total = 0;
  private flushed = 0;
  add(n = 1): void {
    this.total += n;
  }
  flush(into: Counter): void {
    if (this.total > this.flushed) into.inc(this.total - this.flushed);
    this.flushed = this.total;
  }
}
