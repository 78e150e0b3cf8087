/**
 * The set of cluster services one gateway instance needs. The gateway sees only this type;
 * the entry point decides whether the Memory or the Redis implementations stand behind it.
 */
import type { Broker } from './broker.ts';
import type { Inbox } from './inbox.ts';
import type { Presence } from './presence.ts';
import type { InstanceRegistry } from './registry.ts';
import type { SessionDirectory } from './sessions.ts';
import type { UserInbox } from './userInbox.ts';
import type { UserRegistry } from './users.ts';

export interface ClusterBackend {
  readonly kind: 'memory' | 'redis';
  readonly inbox: Inbox;
  /** Topic history, routes and the publish path. */
  readonly broker: Broker;
  readonly registry: InstanceRegistry;
  readonly sessions: SessionDirectory;
  /** Which instances hold sessions of a user (precise delivery, user status, the session quota). */
  readonly users: UserRegistry;
  /** The durable per-user inbox and the send path of direct messages. */
  readonly userInbox: UserInbox;
  /** Who is subscribed to the presence topics, and their joins and leaves. */
  readonly presence: Presence;
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
  /** Removes what this instance owns in the store (inbox, routes, presence, user registrations, registry entry): graceful stop. */
  retire(): Promise<void>;
  /** Releases connections; called last on shutdown. */
  close(): Promise<void>;
}
