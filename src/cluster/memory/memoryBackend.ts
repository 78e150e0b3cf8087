/**
 * In-memory cluster backend: the single-instance default, and a way to run several
 * gateway instances inside one process (tests). A MemoryCluster holds the shared state;
 * each instance gets a MemoryBackend view of it.
 */
import type { Envelope } from '../../protocol/envelope.ts';
import type { ClusterBackend } from '../backend.ts';
import type { Addressed, EnvelopeHandler, Inbox } from '../inbox.ts';
import type { InstanceInfo, InstanceRegistry } from '../registry.ts';
import type { SessionDirectory } from '../sessions.ts';
import type { Presence } from '../presence.ts';
import { MemoryBroker } from './memoryBroker.ts';
import { MemoryInbox } from './memoryInbox.ts';
import { MemoryPresence } from './memoryPresence.ts';
import { MemoryRegistry } from './memoryRegistry.ts';
import { MemorySessions } from './memorySessions.ts';
import { MemoryUserInbox } from './memoryUserInbox.ts';
import { MemoryUsers } from './memoryUsers.ts';
import type { UserInbox } from '../userInbox.ts';
import type { UserRegistry } from '../users.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';

export interface MemoryClusterOptions {
  /** Messages kept per topic. @default 1000 */
  historySize?: number;
  /** @default 86_400_000 */
  historyMaxAgeMs?: number;
  /** An instance whose heartbeat is older than this is not live. @default 15_000 */
  instanceTtlMs?: number;
  /** How long a message ID is remembered for dedupe. @default 600_000 */
  dedupeWindowMs?: number;
  /** Unconfirmed direct messages kept per user. @default 1000 */
  userInboxMaxLength?: number;
  /** Unconfirmed direct messages older than this are dropped. @default 604_800_000 (7 days) */
  userInboxTtlMs?: number;
  /** Where failures of inbox handlers are reported. @default silentLogger */
  log?: Logger;
}

interface InboxState {
  handler: EnvelopeHandler | null;
  /** Entries appended while nobody reads (before start, after stop). */
  backlog: Envelope[];
}

export class MemoryCluster {
  readonly broker: MemoryBroker;
  readonly inboxes = new Map<string, InboxState>();
  readonly instances = new Map<string, InstanceInfo>();
  readonly sessions = new MemorySessions();
  readonly users = new MemoryUsers();
  readonly userInbox: MemoryUserInbox;
  readonly presence: MemoryPresence;
  readonly instanceTtlMs: number;
  readonly log: Logger;

  constructor(options: MemoryClusterOptions = {}) {
    this.log = options.log ?? silentLogger;
    this.broker = new MemoryBroker(this, {
      historySize: options.historySize ?? 1000,
      historyMaxAgeMs: options.historyMaxAgeMs ?? 86_400_000,
      dedupeWindowMs: options.dedupeWindowMs ?? 600_000,
    });
    this.presence = new MemoryPresence(this.broker, this);
    this.instanceTtlMs = options.instanceTtlMs ?? 15_000;
    this.userInbox = new MemoryUserInbox(this.users, this, {
      maxLength: options.userInboxMaxLength ?? 1000,
      ttlMs: options.userInboxTtlMs ?? 604_800_000,
      dedupeWindowMs: options.dedupeWindowMs ?? 600_000,
    });
  }

  /**
   * Hands each envelope to its instance's inbox handler, or to its backlog while nobody
   * reads; resolves with the instances that have no inbox (see Inbox.send).
   */
  async send(batch: readonly Addressed[]): Promise<string[]> {
    const missing: string[] = [];
    for (const { instanceId, envelope } of batch) {
      const state = this.inboxes.get(instanceId);
      if (!state) {
        missing.push(instanceId);
        continue;
      }
      if (!state.handler) {
        state.backlog.push(envelope);
        continue;
      }
      try {
        await state.handler([envelope]);
      } catch (error) {
        // As in Redis: a handler bug is the reader's problem, never the sender's.
        this.log.error('inbox handler failed', { instance: instanceId, error });
      }
    }
    return missing;
  }

  inboxState(instanceId: string): InboxState {
    let state = this.inboxes.get(instanceId);
    if (!state) {
      state = { handler: null, backlog: [] };
      this.inboxes.set(instanceId, state);
    }
    return state;
  }

  backend(instanceId: string): ClusterBackend {
    return new MemoryBackend(this, instanceId);
  }
}

export class MemoryBackend implements ClusterBackend {
  readonly kind = 'memory' as const;
  readonly inbox: Inbox;
  readonly broker: MemoryBroker;
  readonly registry: InstanceRegistry;
  readonly sessions: SessionDirectory;
  readonly users: UserRegistry;
  readonly userInbox: UserInbox;
  readonly presence: Presence;

  constructor(private readonly cluster: MemoryCluster, private readonly instanceId: string) {
    this.inbox = new MemoryInbox(cluster, instanceId);
    this.broker = cluster.broker;
    this.registry = new MemoryRegistry(cluster);
    this.sessions = cluster.sessions;
    this.users = cluster.users;
    this.userInbox = cluster.userInbox;
    this.presence = cluster.presence;
  }

  async start(): Promise<void> {}

  isHealthy(): boolean {
    return true;
  }

  /** Memory never loses state behind the instance's back. */
  onRestored(): void {}

  async retire(): Promise<void> {
    await this.broker.removeRoutes(this.instanceId);
    await this.users.removeInstance(this.instanceId);
    await this.presence.removeInstance(this.instanceId);
    this.cluster.inboxes.delete(this.instanceId);
    this.cluster.instances.delete(this.instanceId);
  }

  async close(): Promise<void> {}
}
