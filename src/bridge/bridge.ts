/**
 * The bridge service: consumes data-center updates and job replies from RabbitMQ and moves
 * them into the streams. Serves /healthz, /readyz and /metrics on its own port, and watches
 * the instance registry: updates stored under a key prefix no gateway uses reach nobody,
 * which /readyz and the log say (a warning: docs/bridge.md argues why it is not a failure).
 * The RabbitMQ connection and the cluster backend are started and stopped by the entry point.
 */
import type { ClusterBackend } from '../cluster/backend.ts';
import { SessionDelivery } from '../cluster/sessionDelivery.ts';
import type { AmqpConnection } from '../amqp/connection.ts';
import type { AmqpNames } from '../amqp/topology.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import { serveHttp, type HttpServer } from '../lib/runtime.ts';
import { BridgeMetrics } from '../metrics/metrics.ts';
import { PROBE_APP } from '../protocol/names.ts';
import { RepliesConsumer } from './repliesConsumer.ts';
import { UpdatesConsumer } from './updatesConsumer.ts';

export interface BridgeOptions {
  apps: readonly string[];
  prefetch: number;
  maxMessageBytes: number;
  host: string;
  /** Port of the health and metrics endpoints (0: any free port). */
  port: number;
  /** How long a job reply waits in a session's mailbox for the session to resume. */
  resumeWindowMs: number;
  /** The Redis key prefix the bridge writes under: named in the warning when no gateway is registered there. */
  keyPrefix: string;
  /** How often the bridge looks for live gateway instances in the registry. */
  gatewayCheckIntervalMs: number;
}

/** While no gateway instance is registered, the warning is logged again this often. */
const NO_GATEWAY_WARN_EVERY_MS = 60_000;

export class Bridge implements Service {
  readonly updates: UpdatesConsumer;
  readonly replies: RepliesConsumer;
  private server: HttpServer | null = null;
  private gatewayCheckTimer: ReturnType<typeof setInterval> | null = null;
  private checkingGateways = false;
  /** Live gateway instances at the last check; null before the first answer. */
  private liveGateways: number | null = null;
  private lastNoGatewayWarningMs = 0;

  constructor(
    private readonly amqp: AmqpConnection,
    names: AmqpNames,
    private readonly backend: ClusterBackend,
    private readonly options: BridgeOptions,
    private readonly log: Logger,
    /** Built by the entry point; a private one otherwise (tests). */
    readonly metrics: BridgeMetrics = new BridgeMetrics(),
  ) {
    metrics.onCollect(() => {
      metrics.bridgeReady.set(this.readiness().length === 0 ? 1 : 0);
      metrics.bridgeGatewayInstances.set(this.liveGateways ?? -1);
    });
    this.updates = new UpdatesConsumer(
      amqp,
      names,
      backend.broker,
      backend.userInbox,
      // The gateways' delivery probes come through RabbitMQ too (docs/operations.md).
      new Set([...options.apps, PROBE_APP]),
      { prefetch: options.prefetch, maxUpdateBytes: options.maxMessageBytes },
      this.metrics,
      log.child({ component: 'updates' }),
    );
    const repliesLog = log.child({ component: 'replies' });
    const delivery = new SessionDelivery(backend.inbox, backend.sessions, options.resumeWindowMs, repliesLog);
    this.replies = new RepliesConsumer(amqp, names, delivery, options.maxMessageBytes, options.prefetch, this.metrics, repliesLog);
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  readiness(): string[] {
    const reasons: string[] = [];
    if (!this.amqp.isConnected()) reasons.push('rabbitmq unreachable');
    if (!this.backend.isHealthy()) reasons.push('redis unreachable');
    return reasons;
  }

  /** What is wrong without making the bridge unready. */
  warnings(): string[] {
    return this.liveGateways === 0 ? [this.noGatewayWarning()] : [];
  }

  private noGatewayWarning(): string {
    return `no gateway instance registered under key prefix ${this.options.keyPrefix}`;
  }

  /** Serves the health endpoints and starts watching the registry (RabbitMQ is started after: consuming begins last). */
  async start(): Promise<void> {
    this.server = serveHttp({
      host: this.options.host,
      port: this.options.port,
      fetch: (req) => this.http(new URL(req.url).pathname),
    });
    void this.checkGateways();
    this.gatewayCheckTimer = setInterval(() => void this.checkGateways(), this.options.gatewayCheckIntervalMs);
    this.log.info('bridge started', { port: this.server.port });
  }

  private async checkGateways(): Promise<void> {
    // While Redis is unreachable a check waits for it; one at a time.
    if (this.checkingGateways) return;
    this.checkingGateways = true;
    try {
      const live = (await this.backend.registry.live()).length;
      const before = this.liveGateways;
      this.liveGateways = live;
      const now = Date.now();
      if (live === 0 && (before !== 0 || now - this.lastNoGatewayWarningMs >= NO_GATEWAY_WARN_EVERY_MS)) {
        this.lastNoGatewayWarningMs = now;
        this.log.warn(`${this.noGatewayWarning()}: updates are stored where no gateway reads them (check REDIS_KEY_PREFIX)`, {
          keyPrefix: this.options.keyPrefix,
        });
      } else if (live > 0 && before === 0) {
        this.log.info('gateway instances registered under the key prefix', { keyPrefix: this.options.keyPrefix, instances: live });
      }
    } catch (error) {
      this.log.debug('gateway check failed', { error });
    } finally {
      this.checkingGateways = false;
    }
  }

  private async http(path: string): Promise<Response> {
    switch (path) {
      case '/healthz':
        return Response.json({ status: 'ok' });
      case '/readyz': {
        const reasons = this.readiness();
        const warnings = this.warnings();
        const body = { ready: reasons.length === 0, ...(reasons.length > 0 ? { reasons } : {}), ...(warnings.length > 0 ? { warnings } : {}) };
        return Response.json(body, { status: reasons.length === 0 ? 200 : 503 });
      }
      case '/metrics':
        return new Response(await this.metrics.render(), { headers: { 'content-type': this.metrics.contentType } });
      default:
        return Response.json({ error: { code: 'not_found', message: 'no such route' } }, { status: 404 });
    }
  }

  /** Stops watching the registry and closes the health endpoints (RabbitMQ stopped before, Redis after). */
  async stop(): Promise<void> {
    if (this.gatewayCheckTimer) clearInterval(this.gatewayCheckTimer);
    this.gatewayCheckTimer = null;
    await this.server?.stop();
    this.server = null;
    this.log.info('bridge stopped');
  }
}
