/**
 * In-memory cluster backend: the single-instance default, and a way to run several
 * gateway instances inside one process (tests). A MemoryCluster holds the shared state;
 * each instance gets a MemoryBackend view of it.
 */
import type { Envelope, TopicMessageEnvelope } from '../../protocol/envelope.ts';
import type { ClusterBackend, Published, TopicBatch } from '../backend.ts';
import type { History } from '../history.ts';
import type { EnvelopeHandler, Inbox } from '../inbox.ts';
import type { InstanceInfo, InstanceRegistry } from '../registry.ts';
import type { SessionDirectory } from '../sessions.ts';
import { MemoryHistory } from './memoryHistory.ts';
import { MemoryInbox } from './memoryInbox.ts';
import { MemoryRegistry } from './memoryRegistry.ts';
import { MemoryRoutes, type MemoryRouteTable } from './memoryRoutes.ts';
import { MemorySessions } from './memorySessions.ts';
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
  /** Where failures of inbox handlers are reported. @default silentLogger */
  log?: Logger;
}

interface InboxState {
  handler: EnvelopeHandler | null;
  /** Entries appended while nobody reads (before start, after stop). */
  backlog: Envelope[];
}

export class MemoryCluster {
  readonly history: MemoryHistory;
  readonly inboxes = new Map<string, InboxState>();
  readonly routes: MemoryRouteTable = new Map();
  readonly instances = new Map<string, InstanceInfo>();
  readonly sessions = new MemorySessions();
  /** `app:topic:messageId` -> what the first publish got, until expiresAtMs. */
  readonly seen = new Map<string, { offset: string; prev: string; expiresAtMs: number }>();
  readonly instanceTtlMs: number;
  readonly dedupeWindowMs: number;
  readonly log: Logger;

  constructor(options: MemoryClusterOptions = {}) {
    this.log = options.log ?? silentLogger;
    this.history = new MemoryHistory(options.historySize ?? 1000, options.historyMaxAgeMs ?? 86_400_000);
    this.instanceTtlMs = options.instanceTtlMs ?? 15_000;
    this.dedupeWindowMs = options.dedupeWindowMs ?? 600_000;
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
  readonly history: History;
  readonly routes: MemoryRoutes;
  readonly registry: InstanceRegistry;
  readonly sessions: SessionDirectory;

  constructor(private readonly cluster: MemoryCluster, private readonly instanceId: string) {
    this.inbox = new MemoryInbox(cluster, instanceId);
    this.history = cluster.history;
    this.routes = new MemoryRoutes(cluster.routes);
    this.registry = new MemoryRegistry(cluster);
    this.sessions = cluster.sessions;
  }

  async start(): Promise<void> {}

  async publish(batches: readonly TopicBatch[]): Promise<Published[][]> {
    const all: Published[][] = [];
    for (const { app, topic, items } of batches) {
      const published: Published[] = [];
      for (const { data, messageId } of items) {
        const key = messageId === undefined ? null : `${app}:${topic}:${messageId}`;
        const seen = key === null ? undefined : this.cluster.seen.get(key);
        if (seen && seen.expiresAtMs > Date.now()) {
          published.push({ offset: seen.offset, duplicate: true });
          continue;
        }
        // Append, then read the routes: the order gap-free recovery relies on.
        const { offset, prev } = await this.history.append(app, topic, data);
        if (key !== null) this.cluster.seen.set(key, { offset, prev, expiresAtMs: Date.now() + this.cluster.dedupeWindowMs });
        const instances = await this.routes.instancesFor(app, topic);
        if (instances.length > 0) {
          const envelope: TopicMessageEnvelope = { kind: 'message', app, topic, offset, prev, data };
          await this.inbox.send(instances.map((instanceId) => ({ instanceId, envelope })));
        }
        published.push({ offset, duplicate: false });
      }
      all.push(published);
    }
    return all;
  }

  async store(batches: readonly TopicBatch[]): Promise<(string | null)[]> {
    const outcomes: (string | null)[] = [];
    for (const batch of batches) {
      outcomes.push(await this.publish([batch]).then(() => null, (error: unknown) => (error instanceof Error ? error.message : String(error))));
    }
    return outcomes;
  }

  isHealthy(): boolean {
    return true;
  }

  /** Memory never loses state behind the instance's back. */
  onRestored(): void {}

  async retire(): Promise<void> {
    await this.routes.removeAll(this.instanceId);
    this.cluster.inboxes.delete(this.instanceId);
    this.cluster.instances.delete(this.instanceId);
  }

  async close(): Promise<void> {}
}
