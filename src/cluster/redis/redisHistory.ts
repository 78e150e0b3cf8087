/**
 * History in Redis: one capped stream per (app, topic), trimmed by length and by age; entry
 * IDs are the offsets. Whether a recovery is complete is
 * read from the stream's own bookkeeping (`max-deleted-entry-id`).
 */
import { compareOffsets } from '../../protocol/offset.ts';
import type { Routed } from '../backend.ts';
import type { Appended, History, HistoryEntry, Recovery } from '../history.ts';
import type { RedisClient } from './connection.ts';
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

export class RedisHistory implements History {
  private readonly client: RedisClient & ScriptedClient;

  constructor(client: RedisClient, private readonly keys: Keys, private readonly options: RedisHistoryOptions) {
    this.client = withScripts(client);
  }

  /** Appends and returns the routes too (one script): see ClusterBackend.appendAndRoute. */
  async appendRouted(app: string, topic: string, data: string, messageId?: string): Promise<Routed> {
    const { size, maxAgeMs, dedupeWindowMs } = this.options;
    const history = this.keys.history(app, topic);
    const [offset, prev, instances, duplicate] = await this.client.syAppend(
      history,
      this.keys.routes(app, topic),
      messageId === undefined ? history : this.keys.dedupe(app, topic, messageId),
      data,
      size,
      `${Date.now() - maxAgeMs}-0`,
      // The stream outlives its entries by one more age window: until then its trim boundary
      // still tells a client at an aged-out offset that nothing else is missing.
      2 * maxAgeMs,
      messageId === undefined ? '0' : '1',
      dedupeWindowMs,
    );
    return { offset, prev, instances, duplicate: duplicate === 1 };
  }

  async append(app: string, topic: string, data: string): Promise<Appended> {
    const { offset, prev } = await this.appendRouted(app, topic, data);
    return { offset, prev };
  }

  async readSince(app: string, topic: string, since: string): Promise<Recovery> {
    // Length trimming is exact; the margin covers entries appended while we read.
    const count = this.options.size + 100;
    const reply = await this.client.syReadSince(this.keys.history(app, topic), since, `${Date.now() - this.options.maxAgeMs}-0`, count);
    if (reply.length === 0) return { recovered: false, entries: [] };
    const [lastGenerated, maxDeleted, raw] = reply;
    const entries = toEntries(raw);
    const recovered = compareOffsets(since, lastGenerated) <= 0 && compareOffsets(since, maxDeleted) >= 0 && raw.length < count;
    return { recovered, entries };
  }

  async readBetween(app: string, topic: string, after: string, before: string): Promise<HistoryEntry[]> {
    const raw = (await this.client.call('XRANGE', this.keys.history(app, topic), `(${after}`, `(${before}`)) as StreamEntry[];
    return toEntries(raw);
  }

  head(app: string, topic: string): Promise<string> {
    return this.client.syHead(this.keys.history(app, topic));
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
