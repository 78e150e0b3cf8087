/**
 * The Broker in Redis. Per (app, topic), in one slot: the history, a capped stream trimmed by
 * length and by age whose entry IDs are the offsets (whether a recovery is complete is read
 * from the stream's own bookkeeping, `max-deleted-entry-id`); the route set of instance IDs;
 * the dedupe hashes. Each instance also indexes its own routes so that they can be removed
 * in one sweep when it stops or dies.
 *
 * Publishing is the PUBLISH script (lua/publish.lua). On standalone Redis one script call
 * appends every batch to its history and writes the routed inboxes itself (run entries, see
 * inboxEntry.ts). In a Redis Cluster the inboxes live in other slots: per topic the script
 * appends and reads the routes, then the envelopes go to the inboxes through Inbox.send.
 * There a duplicate's envelopes are sent again, since an earlier attempt may have stopped
 * between the two steps; receivers drop repeats by offset.
 */
import type { TopicMessageEnvelope } from '../../protocol/envelope.ts';
import { compareOffsets } from '../../protocol/offset.ts';
import { ORIGIN_OFFSET, type BatchOutcome, type Broker, type HistoryEntry, type Published, type Recovery, type TopicBatch } from '../broker.ts';
import type { Addressed, Inbox } from '../inbox.ts';
import type { RedisClient } from './connection.ts';
import { runHead } from './inboxEntry.ts';
import type { Keys } from './keys.ts';
import { withScripts, type ScriptedClient, type StreamEntry } from './scripts.ts';
import { field } from './streamEntries.ts';

export interface RedisBrokerOptions {
  /** Messages kept per topic. */
  historySize: number;
  /** Messages older than this leave history. */
  historyMaxAgeMs: number;
  /** How long a message ID is remembered for dedupe. */
  dedupeWindowMs: number;
  /** The client talks to a Redis Cluster: inboxes are written apart from the script. */
  cluster: boolean;
  /** Approximate cap on an inbox's length (see RedisInboxOptions.maxLength). */
  inboxMaxLength: number;
}

/** Where the PUBLISH script appends envelopes: `<keyHead><instance ID><keyTail>`. */
interface InboxWrite {
  keyHead: string;
  keyTail: string;
  maxLength: number;
}

/** What the script answers for one batch. */
interface ScriptBatch {
  /** Instances routed for the topic, read after the append. */
  routes: string[];
  published: Published[];
}

export class RedisBroker implements Broker {
  private readonly client: RedisClient & ScriptedClient;
  /** Set on standalone Redis, where the script writes the inboxes itself. */
  private readonly inboxWrite: InboxWrite | null;

  constructor(
    client: RedisClient,
    private readonly keys: Keys,
    private readonly options: RedisBrokerOptions,
    /** Writes the envelopes in a Redis Cluster. */
    private readonly inbox: Pick<Inbox, 'send'>,
  ) {
    this.client = withScripts(client);
    const { head, tail } = keys.inboxKeyParts;
    this.inboxWrite = options.cluster ? null : { keyHead: head, keyTail: tail, maxLength: options.inboxMaxLength };
  }

  publish(batches: readonly TopicBatch[], options?: { answer: true }): Promise<Published[][]>;
  publish(batches: readonly TopicBatch[], options: { answer: false }): Promise<BatchOutcome[]>;
  async publish(batches: readonly TopicBatch[], options?: { answer: boolean }): Promise<Published[][] | BatchOutcome[]> {
    const answer = options?.answer !== false;
    if (this.inboxWrite) {
      if (!answer) return this.runScript(batches, this.inboxWrite, false);
      return (await this.runScript(batches, this.inboxWrite)).map((batch) => batch.published);
    }
    if (answer) return Promise.all(batches.map((batch) => this.publishInCluster(batch)));
    const settled = await Promise.allSettled(batches.map((batch) => this.publishInCluster(batch)));
    return settled.map((s) => (s.status === 'fulfilled' ? null : s.reason instanceof Error ? s.reason.message : String(s.reason)));
  }

  private async publishInCluster(batch: TopicBatch): Promise<Published[]> {
    const { app, topic, items } = batch;
    const ts = Date.now();
    const [{ routes, published }] = (await this.runScript([batch])) as [ScriptBatch];
    if (routes.length > 0) {
      const sends: Addressed[] = [];
      for (let i = 0; i < published.length; i++) {
        const { offset, prev } = published[i]!;
        const envelope: TopicMessageEnvelope = { kind: 'message', app, topic, offset, prev, data: items[i]!.data, ts };
        for (const instanceId of routes) sends.push({ instanceId, envelope });
      }
      await this.inbox.send(sends);
    }
    return published;
  }

  /**
   * Runs the PUBLISH script for the batches. With `inboxes`, the script also appends the
   * envelopes to the routed instances' inboxes (standalone Redis only; in a Redis Cluster
   * pass batches of one slot, i.e. one topic). Answers per batch the routes read after the
   * append, and each item's offset, prev and whether it was a duplicate.
   */
  private runScript(batches: readonly TopicBatch[], inboxes?: InboxWrite): Promise<ScriptBatch[]>;
  /**
   * The same without an answer (`answer: false`): nothing to build in Redis or to parse here.
   * Resolves per batch with its outcome; the other topics are stored all the same.
   */
  private runScript(batches: readonly TopicBatch[], inboxes: InboxWrite, answer: false): Promise<BatchOutcome[]>;
  private async runScript(batches: readonly TopicBatch[], inboxes?: InboxWrite, answer = true): Promise<ScriptBatch[] | BatchOutcome[]> {
    const { historySize, historyMaxAgeMs, dedupeWindowMs } = this.options;
    const keys: string[] = [];
    const perTopic: (string | number)[] = [];
    const now = Date.now();
    const window = Math.floor(now / dedupeWindowMs);
    for (const { app, topic, items } of batches) {
      perTopic.push(keys.length + 1, inboxes ? runHead(app, topic, now) : '', items.length);
      keys.push(
        this.keys.history(app, topic),
        this.keys.routes(app, topic),
        this.keys.dedupe(app, topic, window),
        this.keys.dedupe(app, topic, window - 1),
        this.keys.dedupe(app, topic, window - 2),
      );
      for (const { data, messageId } of items) perTopic.push(data, messageId ?? '');
    }
    const args = [
      historySize,
      `${Date.now() - historyMaxAgeMs}-0`,
      // The stream outlives its entries by one more age window: until then its trim boundary
      // still tells a client at an aged-out offset that nothing else is missing. (The same
      // TTL as an empty stream created by position().)
      2 * historyMaxAgeMs,
      dedupeWindowMs,
      inboxes?.keyHead ?? '',
      inboxes?.keyTail ?? '',
      inboxes?.maxLength ?? 0,
      answer ? '1' : '0',
      batches.length,
      ...perTopic,
    ];
    // A Redis Cluster gets one topic per call (see syPublishTopic).
    const replies = this.inboxWrite ? await this.client.syPublish(keys.length, ...keys, ...args) : await this.client.syPublishTopic(...keys, ...args);
    if (!answer) return replies.map((reply) => (reply[0] === 1 ? null : reply[1]));
    return replies.map((reply) => {
      if (reply[0] === 0) throw new Error(reply[1]);
      const [, routes = [], flat = []] = reply;
      const published: Published[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        published.push({ offset: String(flat[i]), prev: String(flat[i + 1]), duplicate: Number(flat[i + 2]) === 1 });
      }
      return { routes, published };
    });
  }

  async readSince(app: string, topic: string, since: string, limit: number): Promise<Recovery> {
    const reply = await this.client.syReadSince(this.keys.history(app, topic), since, `${Date.now() - this.options.historyMaxAgeMs}-0`, limit);
    if (reply.length === 0) return { recovered: false, entries: [], head: ORIGIN_OFFSET };
    const [lastGenerated, maxDeleted, raw] = reply;
    const recovered = compareOffsets(since, lastGenerated) <= 0 && compareOffsets(since, maxDeleted) >= 0;
    return { recovered, entries: toEntries(raw), head: lastGenerated };
  }

  async readBetween(app: string, topic: string, after: string, before: string): Promise<HistoryEntry[]> {
    const raw = (await this.client.call('XRANGE', this.keys.history(app, topic), `(${after}`, `(${before}`)) as StreamEntry[];
    return toEntries(raw);
  }

  /** See lua/position.lua; the empty stream it may create expires like a history stream. */
  position(app: string, topic: string): Promise<string> {
    return this.client.syPosition(this.keys.history(app, topic), 2 * this.options.historyMaxAgeMs);
  }

  async addRoute(app: string, topic: string, instanceId: string): Promise<void> {
    // Index first: a route that exists is always findable by whoever cleans up after us.
    await this.client.sadd(this.keys.instanceRoutes(instanceId), `${app}:${topic}`);
    await this.client.sadd(this.keys.routes(app, topic), instanceId);
  }

  async removeRoute(app: string, topic: string, instanceId: string): Promise<void> {
    await this.client.srem(this.keys.routes(app, topic), instanceId);
    await this.client.srem(this.keys.instanceRoutes(instanceId), `${app}:${topic}`);
  }

  async removeRoutes(instanceId: string): Promise<number> {
    const index = this.keys.instanceRoutes(instanceId);
    const members = await this.client.smembers(index);
    await Promise.all(
      members.map((member) => {
        const sep = member.indexOf(':');
        return this.client.srem(this.keys.routes(member.slice(0, sep), member.slice(sep + 1)), instanceId);
      }),
    );
    await this.client.del(index);
    return members.length;
  }

  routes(app: string, topic: string): Promise<string[]> {
    return this.client.smembers(this.keys.routes(app, topic));
  }
}

function toEntries(raw: StreamEntry[]): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const [offset, fields] of raw) {
    const data = field(fields, 'd');
    if (data !== undefined) out.push({ offset, data });
  }
  return out;
}
