/**
 * The delivery probe: a health check that proves delivery. Every PROBE_INTERVAL_MS the
 * instance sends a probe along one path to a topic of its own in the reserved app `_probe`,
 * routed to this instance only; its inbox reader brings it back like any topic message. The
 * round trip is measured, and the probe is healthy while one came back within
 * PROBE_TIMEOUT_MS. Two paths (Gateway builds them):
 *
 * - the publish path (`redis` or `memory`): Broker.publish, on Redis the PUBLISH script
 *   (history append, routed inbox write). Unhealthy makes the instance unready, even if every
 *   connection looks healthy (a stalled server, a reader stuck behind a frozen socket, a lost
 *   route);
 * - the RabbitMQ path (`amqp`, with AMQP_URL): an update to the updates exchange, which the
 *   bridge stores like any update. Unhealthy is a warning in /readyz: one bridge down must
 *   not take every gateway out of service (docs/operations.md).
 *
 * One probe in flight at a time: a send that hangs does not pile up more behind it.
 */
import type { TopicMessageEnvelope } from '../protocol/envelope.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import { withTimeout } from '../lib/timeout.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';

export interface ProbeOptions {
  /** The probe's topic in the `_probe` app (one per instance and path). */
  topic: string;
  intervalMs: number;
  timeoutMs: number;
  /** Names the path in the metrics: the backend's kind (`redis`, `memory`), or `amqp`. */
  path: string;
}

/** How a probe travels: `send` puts it on the path; `route` routes its topic to this instance. */
export interface ProbePath {
  send(topic: string, data: string): Promise<void>;
  route(topic: string): Promise<void>;
}

export class DeliveryProbe implements Service {
  readonly topic: string;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Starts at the clock: a probe left in the inbox by an earlier process with this ID never matches one of ours. */
  private sequence = Date.now();
  private inFlight = false;
  /** Sent time of each probe not back yet, by sequence number. */
  private readonly sent = new Map<number, number>();
  /** When the last probe came back (the start counts as one: the timeout runs from there). */
  private lastBackAtMs = Date.now();
  /** Round trip of the last probe that came back; null before the first. */
  lastRoundTripMs: number | null = null;

  constructor(
    private readonly path: ProbePath,
    private readonly options: ProbeOptions,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {
    this.topic = options.topic;
  }

  /**
   * Routes the probe topic to this instance and starts probing. The first probe is stored
   * before this resolves (or the timeout passed): nothing lands in the inbox later than the
   * instance's start but for the next interval's probe.
   */
  async start(): Promise<void> {
    await this.restoreRoute();
    this.lastBackAtMs = Date.now();
    this.timer = setInterval(() => void this.send(), this.options.intervalMs);
    await withTimeout(this.send(), this.options.timeoutMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Adds the probe topic's route again (after the store lost this instance's state). */
  restoreRoute(): Promise<void> {
    return this.path.route(this.topic);
  }

  /** True while probes come back within the timeout. */
  isHealthy(now = Date.now()): boolean {
    return now - this.lastBackAtMs <= this.options.timeoutMs;
  }

  /** Why not ready, or null. */
  problem(now = Date.now()): string | null {
    if (this.isHealthy(now)) return null;
    return `delivery probe: nothing came back through the ${this.options.path} path for ${now - this.lastBackAtMs} ms (PROBE_TIMEOUT_MS ${this.options.timeoutMs})`;
  }

  private async send(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    const n = ++this.sequence;
    const sentAtMs = Date.now();
    this.sent.set(n, sentAtMs);
    // Probes that never came back are forgotten after the timeout.
    for (const [k, at] of this.sent) if (sentAtMs - at > this.options.timeoutMs) this.sent.delete(k);
    this.metrics.probesSent.inc({ path: this.options.path });
    try {
      await this.path.send(this.topic, String(n));
    } catch (error) {
      this.metrics.probesFailed.inc({ path: this.options.path });
      this.log.debug('probe publish failed', { error });
    } finally {
      this.inFlight = false;
    }
  }

  /** A probe envelope came back through the inbox. */
  received(envelope: TopicMessageEnvelope): void {
    if (envelope.topic !== this.topic) return;
    const sentAtMs = this.sent.get(Number(envelope.data));
    if (sentAtMs === undefined) return; // from an earlier process with this ID, or forgotten
    this.sent.delete(Number(envelope.data));
    const now = Date.now();
    this.lastBackAtMs = now;
    this.lastRoundTripMs = now - sentAtMs;
    this.metrics.probeRoundTrip.set({ path: this.options.path }, this.lastRoundTripMs / 1000);
  }

  /** Moves the probe's state into the metrics (at each scrape). */
  collect(now = Date.now()): void {
    const path = this.options.path;
    this.metrics.probeAge.set({ path }, (now - this.lastBackAtMs) / 1000);
    this.metrics.probeHealthy.set({ path }, this.isHealthy(now) ? 1 : 0);
  }
}
