/** Moves the connections' reconnect counts into a process's metrics at each scrape (both entry points). */
import type { ClusterBackend } from '../cluster/backend.ts';
import type { AmqpConnection } from '../amqp/connection.ts';
import { HotCount, type GatewayMetrics, type BridgeMetrics } from '../metrics/metrics.ts';

export function countReconnects(metrics: GatewayMetrics | BridgeMetrics, backend: ClusterBackend, amqp: AmqpConnection | null): void {
  const redis = new HotCount();
  const rabbit = new HotCount();
  metrics.onCollect(() => {
    // Only the Redis backend reconnects; the in-memory one has nothing to lose.
    redis.total = 'reconnects' in backend && typeof backend.reconnects === 'number' ? backend.reconnects : 0;
    redis.flush(metrics.redisReconnects);
    // The first connect is no reconnect.
    rabbit.total = amqp ? Math.max(0, amqp.connects - 1) : 0;
    rabbit.flush(metrics.amqpReconnects);
  });
}
