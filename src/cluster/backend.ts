/**
 * The set of cluster services one gateway instance needs. The gateway sees only this type;
 * the entry point decides whether the Memory or the Redis implementations stand behind it.
 */
import type { History } from './history.ts';
import type { Inbox } from './inbox.ts';
import type { InstanceRegistry } from './registry.ts';
import type { TopicRoutes } from './routes.ts';

export interface ClusterBackend {
  readonly kind: 'memory' | 'redis';
  readonly inbox: Inbox;
  readonly history: History;
  readonly routes: TopicRoutes;
  readonly registry: InstanceRegistry;
  /** False while the backing store is unreachable; drives /readyz. */
  isHealthy(): boolean;
  /** Releases connections; called last on shutdown. */
  close(): Promise<void>;
}
