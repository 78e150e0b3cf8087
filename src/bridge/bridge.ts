/**
 * The bridge service: consumes data-center updates and job replies from RabbitMQ and moves
 * them into the streams. Serves /healthz, /readyz and /metrics on its own port.
 * The RabbitMQ connection and the cluster backend are started and stopped by the entry point.
 */
import type { ClusterBackend } from '../cluster/backend.ts';
import { TopicPublisher } from '../cluster/topicPublisher.ts';
import type { AmqpConnection } from '../amqp/connection.ts';
import type { AmqpNames } from '../amqp/topology.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import { BridgeMetrics } from './metrics.ts';
import { RepliesConsumer } from './repliesConsumer.ts';
import { UpdatesConsumer } from './updatesConsumer.ts';

export interface BridgeOptions {
  apps: readonly string[];
  prefetch: number;
  maxMessageBytes: number;
  host: string;
  /** Port of the health and metrics endpoints (0: any free port). */
  port: number;
}

export class Bridge implements Service {
  readonly metrics = new BridgeMetrics();
  readonly updates: UpdatesConsumer;
  readonly replies: RepliesConsumer;
  private server: ReturnType<typeof Bun.serve> | null = null;

  constructor(
    private readonly amqp: AmqpConnection,
    names: AmqpNames,
    private readonly backend: ClusterBackend,
    private readonly options: BridgeOptions,
    private readonly log: Logger,
  ) {
    const publisher = new TopicPublisher(backend);
    this.updates = new UpdatesConsumer(
      amqp,
      names,
      publisher,
      new Set(options.apps),
      { prefetch: options.prefetch, maxUpdateBytes: options.maxMessageBytes },
      this.metrics,
      log.child({ component: 'updates' }),
    );
    this.replies = new RepliesConsumer(amqp, names, backend.inbox, backend.sessions, options.maxMessageBytes, options.prefetch, this.metrics, log.child({ component: 'replies' }));
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

  /** Serves the health endpoints (RabbitMQ is started after: consuming begins last). */
  async start(): Promise<void> {
    this.server = Bun.serve({
      hostname: this.options.host,
      port: this.options.port,
      fetch: (req) => this.http(new URL(req.url).pathname),
    });
    this.log.info('bridge started', { port: this.server.port });
  }

  private http(path: string): Response {
    switch (path) {
      case '/healthz':
        return Response.json({ status: 'ok' });
      case '/readyz': {
        const reasons = this.readiness();
        return reasons.length === 0 ? Response.json({ ready: true }) : Response.json({ ready: false, reasons }, { status: 503 });
      }
      case '/metrics':
        return new Response(this.metrics.render({ switchyard_bridge_ready: this.readiness().length === 0 ? 1 : 0 }), {
          headers: { 'content-type': 'text/plain; version=0.0.4' },
        });
      default:
        return Response.json({ error: { code: 'not_found', message: 'no such route' } }, { status: 404 });
    }
  }

  /** Closes the health endpoints (RabbitMQ stopped before, Redis after). */
  async stop(): Promise<void> {
    await this.server?.stop(true);
    this.server = null;
    this.log.info('bridge stopped');
  }
}
