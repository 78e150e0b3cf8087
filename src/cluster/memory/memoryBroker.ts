/**
 * In-memory Broker, shared by the instances of one MemoryCluster: topic logs (TopicLogs),
 * the routes of each topic (usually one instance: a FewStrings), and the message IDs seen
 * per topic. A publish appends, then reads the routes with no await in between (nothing
 * runs between the two, as in the Redis script), then hands the envelopes to the inboxes.
 */
import type { TopicMessageEnvelope } from '../../protocol/envelope.ts';
import { fewAdd, fewDelete, fewHas, fewValues, type FewStrings } from '../../lib/fewStrings.ts';
import type { BatchOutcome, Broker, HistoryEntry, Published, Recovery, TopicBatch } from '../broker.ts';
import type { Inbox } from '../inbox.ts';
import { TopicLogs } from './topicLogs.ts';
import { TopicMap } from './topicMap.ts';

export interface MemoryBrokerOptions {
  /** Messages kept per topic. */
  historySize: number;
  /** Messages older than this leave history. */
  historyMaxAgeMs: number;
  /** How long a message ID is remembered for dedupe. */
  dedupeWindowMs: number;
  /** The clock of offsets and of the dedupe window. @default Date.now */
  now?: () => number;
}

/** What the first publish of a message ID got, until expiresAtMs. */
interface Seen {
  offset: string;
  prev: string;
  expiresAtMs: number;
}

export class MemoryBroker implements Broker {
  /** The topics' history. Tests append to it directly to stage what a racing publisher leaves. */
  readonly logs: TopicLogs;
  private readonly routeTable = new TopicMap<FewStrings>();
  /** Message ID -> what its first publish got, per topic. */
  private readonly seen = new TopicMap<Map<string, Seen>>();
  private readonly now: () => number;

  constructor(
    /** Where envelopes go: the cluster's inboxes. */
    private readonly inboxes: Pick<Inbox, 'send'>,
    private readonly options: MemoryBrokerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.logs = new TopicLogs(options.historySize, options.historyMaxAgeMs, this.now);
  }

  publish(batches: readonly TopicBatch[], options?: { answer: true }): Promise<Published[][]>;
  publish(batches: readonly TopicBatch[], options: { answer: false }): Promise<BatchOutcome[]>;
  async publish(batches: readonly TopicBatch[], options?: { answer: boolean }): Promise<Published[][] | BatchOutcome[]> {
    if (options?.answer !== false) {
      const all: Published[][] = [];
      for (const batch of batches) all.push(await this.publishBatch(batch));
      return all;
    }
    const outcomes: BatchOutcome[] = [];
    for (const batch of batches) {
      outcomes.push(await this.publishBatch(batch).then(() => null, (error: unknown) => (error instanceof Error ? error.message : String(error))));
    }
    return outcomes;
  }

  private async publishBatch({ app, topic, items }: TopicBatch): Promise<Published[]> {
    const published: Published[] = [];
    for (const { data, messageId } of items) {
      const seen = messageId === undefined ? undefined : this.seen.get(app, topic)?.get(messageId);
      if (seen && seen.expiresAtMs > this.now()) {
        published.push({ offset: seen.offset, prev: seen.prev, duplicate: true });
        continue;
      }
      // Append, then read the routes: the order gap-free recovery relies on.
      const { offset, prev } = this.logs.append(app, topic, data);
      if (messageId !== undefined) this.remember(app, topic, messageId, { offset, prev, expiresAtMs: this.now() + this.options.dedupeWindowMs });
      const instances = [...fewValues(this.routeTable.get(app, topic) ?? null)];
      if (instances.length > 0) {
        const envelope: TopicMessageEnvelope = { kind: 'message', app, topic, offset, prev, data, ts: Date.now() };
        await this.inboxes.send(instances.map((instanceId) => ({ instanceId, envelope })));
      }
      published.push({ offset, prev, duplicate: false });
    }
    return published;
  }

  private remember(app: string, topic: string, messageId: string, seen: Seen): void {
    let ids = this.seen.get(app, topic);
    if (!ids) this.seen.set(app, topic, (ids = new Map()));
    ids.set(messageId, seen);
  }

  async readSince(app: string, topic: string, since: string, limit: number): Promise<Recovery> {
    return this.logs.readSince(app, topic, since, limit);
  }

  async readBetween(app: string, topic: string, after: string, before: string): Promise<HistoryEntry[]> {
    return this.logs.readBetween(app, topic, after, before);
  }

  async position(app: string, topic: string): Promise<string> {
    return this.logs.position(app, topic);
  }

  async addRoute(app: string, topic: string, instanceId: string): Promise<void> {
    this.routeTable.set(app, topic, fewAdd(this.routeTable.get(app, topic) ?? null, instanceId));
  }

  async removeRoute(app: string, topic: string, instanceId: string): Promise<void> {
    this.unroute(app, topic, instanceId);
  }

  async removeRoutes(instanceId: string): Promise<number> {
    let removed = 0;
    for (const [app, topic, instances] of this.routeTable.entries()) {
      if (!fewHas(instances, instanceId)) continue;
      this.unroute(app, topic, instanceId);
      removed += 1;
    }
    return removed;
  }

  private unroute(app: string, topic: string, instanceId: string): void {
    const current = this.routeTable.get(app, topic);
    if (current === undefined) return;
    const left = fewDelete(current, instanceId);
    if (left === null) this.routeTable.delete(app, topic);
    else this.routeTable.set(app, topic, left);
  }

  async routes(app: string, topic: string): Promise<string[]> {
    return [...fewValues(this.routeTable.get(app, topic) ?? null)];
  }
}
