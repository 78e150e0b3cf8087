/**
 * History in Redis: one capped stream per (app, topic), trimmed by length and by age; entry
 * IDs are the offsets. Whether a recovery is complete is
 * read from the stream's own bookkeeping (`max-deleted-entry-id`).
 */
import { compareOffsets } from '../../protocol/offset.ts';
import type { TopicBatch } from '../backend.ts';
import { ORIGIN_OFFSET, type Appended, type History, type HistoryEntry, type Recovery } from '../history.ts';
import type { RedisClient } from './connection.ts';
import { runHead } from './inboxEntry.ts';
import type { Keys } from './keys.ts';
import { withScripts, type ScriptedClient, type StreamEntry } from './scripts.ts';
import { field } from './streamEntries.ts';

export interface RedisHistoryOptions {
  /** Messages kept per topic. */
  size: number;
  /** Messages older than this leave history. */
  maxAgeMs: number;
  /** How long a message ID is remembered for dedupe. */
  dedupeWindowMs: number;
}

/** Where the PUBLISH script appends envelopes: `<keyHead><instance ID><keyTail>`. */
export interface InboxWrite {
  keyHead: string;
  keyTail: string;
  maxLength: number;
}

export interface AppendedItem extends Appended {
  duplicate: boolean;
}

export interface AppendedBatch {
  /** Instances with subscribers of the topic, read after the append. */
  routes: string[];
  appended: AppendedItem[];
}

export class RedisHistory implements History {
  private readonly client: RedisClient & ScriptedClient;

  constructor(client: RedisClient, private readonly keys: Keys, private readonly options: RedisHistoryOptions) {
    this.client = withScripts(client);
  }

  /**
   * Appends batches to their topics in one script call (see the PUBLISH script). With
   * `inboxes`, the script also appends the envelopes to the routed instances' inboxes
   * (standalone Redis only; in a Redis Cluster pass batches of one slot, i.e. one topic).
   * Answers per batch the routes read after the append, and each item's offset, prev and
   * whether it was a duplicate.
   */
  appendBatches(batches: readonly TopicBatch[], inboxes?: InboxWrite): Promise<AppendedBatch[]>;
  /**
   * The same without an answer (`answer: false`): nothing to build in Redis or to parse here.
   * Resolves per batch with null (stored) or the error its topic failed with; the other
   * topics are stored all the same.
   */
  appendBatches(batches: readonly TopicBatch[], inboxes: InboxWrite, answer: false): Promise<(string | null)[]>;
  async appendBatches(batches: readonly TopicBatch[], inboxes?: InboxWrite, answer = true): Promise<AppendedBatch[] | (string | null)[]> {
    const { size, maxAgeMs, dedupeWindowMs } = this.options;
    const keys: string[] = [];
    const perTopic: (string | number)[] = [];
    const window = Math.floor(Date.now() / dedupeWindowMs);
    for (const { app, topic, items } of batches) {
      perTopic.push(keys.length + 1, inboxes ? runHead(app, topic) : '', items.length);
      keys.push(
        this.keys.history(app, topic),
        this.keys.routes(app, topic),
        this.keys.dedupe(app, topic, window),
        this.keys.dedupe(app, topic, window - 1),
        this.keys.dedupe(app, topic, window - 2),
      );
      for (const { data, messageId } of items) perTopic.push(data, messageId ?? '');
    }
    const replies = await this.client.syPublish(
      keys.length,
      ...keys,
      size,
      `${Date.now() - maxAgeMs}-0`,
      // The stream outlives its entries by one more age window: until then its trim boundary
      // still tells a client at an aged-out offset that nothing else is missing. (The same
      // TTL as an empty stream created by position().)
      2 * maxAgeMs,
      dedupeWindowMs,
      inboxes?.keyHead ?? '',
      inboxes?.keyTail ?? '',
      inboxes?.maxLength ?? 0,
      answer ? '1' : '0',
      batches.length,
      ...perTopic,
    );
    if (!answer) return replies.map((reply) => (reply[0] === 1 ? null : reply[1]));
    return replies.map((reply) => {
      if (reply[0] === 0) throw new Error(reply[1]);
      const [, routes = [], flat = []] = reply;
      const appended: AppendedItem[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        appended.push({ offset: String(flat[i]), prev: String(flat[i + 1]), duplicate: Number(flat[i + 2]) === 1 });
      }
      return { routes, appended };
    });
  }

  async append(app: string, topic: string, data: string): Promise<Appended> {
    const [batch] = await this.appendBatches([{ app, topic, items: [{ data }] }]);
    return batch!.appended[0]!;
  }

  async readSince(app: string, topic: string, since: string, limit: number): Promise<Recovery> {
    const reply = await this.client.syReadSince(this.keys.history(app, topic), since, `${Date.now() - this.options.maxAgeMs}-0`, limit);
    if (reply.length === 0) return { recovered: false, entries: [], head: ORIGIN_OFFSET };
    const [lastGenerated, maxDeleted, raw] = reply;
    const recovered = compareOffsets(since, lastGenerated) <= 0 && compareOffsets(since, maxDeleted) >= 0;
    return { recovered, entries: toEntries(raw), head: lastGenerated };
  }

  async readBetween(app: string, topic: string, after: string, before: string): Promise<HistoryEntry[]> {
    const raw = (await this.client.call('XRANGE', this.keys.history(app, topic), `(${after}`, `(${before}`)) as StreamEntry[];
    return toEntries(raw);
  }

  /** See the POSITION script; the empty stream it may create expires like a history stream. */
  position(app: string, topic: string): Promise<string> {
    return this.client.syPosition(this.keys.history(app, topic), 2 * this.options.maxAgeMs);
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
