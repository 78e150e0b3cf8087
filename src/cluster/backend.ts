/**
 * The set of cluster services one gateway instance needs. The gateway sees only this type;
 * the entry point decides whether the Memory or the Redis implementations stand behind it.
 */
import type { History } from './history.ts';
import type { Inbox } from './inbox.ts';
import type { InstanceRegistry } from './registry.ts';
import type { TopicRoutes } from './routes.ts';
import type { SessionDirectory } from './sessions.ts';

/** One message to publish: its payload as JSON text, and the producer's ID for dedupe. */
export interface PublishItem {
  data: string;
  messageId?: string;
}

/** Messages for one topic, in publish order. */
export interface TopicBatch {
  app: string;
  topic: string;
  items: readonly PublishItem[];
}

export interface Published {
  offset: string;
  /** The message ID was seen within the dedupe window: nothing was appended; the offset is the stored one. */
  duplicate: boolean;
}

export interface ClusterBackend {
  readonly kind: 'memory' | 'redis';
  readonly inbox: Inbox;
  readonly history: History;
  readonly routes: TopicRoutes;
  readonly registry: InstanceRegistry;
  readonly sessions: SessionDirectory;
  /**
   * The publish path: for each batch, appends its items to the topic's history in order,
   * then sends an envelope for each to the inbox of every instance with subscribers of the
   * topic. Routes are read after the append, which gap-free recovery relies on (see
   * docs/architecture.md). An item whose `messageId` was seen within the dedupe window is
   * not appended again. One round trip for all the batches on standalone Redis. Resolves,
   * per batch and item, once everything is stored.
   */
  publish(batches: readonly TopicBatch[]): Promise<Published[][]>;
  /**
   * Like publish, for a caller that needs no offsets (the bridge): less to answer. Each batch
   * stands alone: resolves per batch with null (stored) or the error that batch failed with,
   * so that one broken topic cannot hold back the others. Rejects when nothing could be
   * stored (the store unreachable).
   */
  store(batches: readonly TopicBatch[]): Promise<(string | null)[]>;
  /**
   * Connects (waits until the store answers), removes routes an earlier process with this
   * instance ID left behind (it may have crashed and restarted before being reaped), and
   * starts background work.
   */
  start(): Promise<void>;
  /** False while the backing store is unreachable; drives /readyz. */
  isHealthy(): boolean;
  /**
   * Called after the store came back from an outage that may have lost this instance's
   * state (a Redis restart): the instance re-registers and re-adds its routes.
   */
  onRestored(listener: () => void): void;
  /** Removes what this instance owns in the store (inbox, routes, registry entry): graceful stop. */
  retire(): Promise<void>;
  /** Releases connections; called last on shutdown. */
  close(): Promise<void>;
}
