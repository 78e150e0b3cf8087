/**
 * The set of cluster services one gateway instance needs. The gateway sees only this type;
 * the entry point decides whether the Memory or the Redis implementations stand behind it.
 */
import type { Appended, History } from './history.ts';
import type { Inbox } from './inbox.ts';
import type { InstanceRegistry } from './registry.ts';
import type { TopicRoutes } from './routes.ts';
import type { SessionDirectory } from './sessions.ts';

export interface Routed extends Appended {
  /** Instances that had subscribers of the topic when the message was appended. */
  instances: string[];
  /** The message ID was seen before: nothing was appended; offset/prev are the stored ones. */
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
   * Appends to the topic's history, then reads its routes: in that order, which gap-free
   * recovery relies on (see TopicPublisher). One round trip on Redis. With a `messageId`
   * seen within the dedupe window, appends nothing and answers the stored offset.
   */
  appendAndRoute(app: string, topic: string, data: string, messageId?: string): Promise<Routed>;
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
