/**
 * The history of MemoryBroker: one bounded log per (app, topic). Offsets follow the Redis
 * Stream ID shape (`<ms>-<seq>`) so that both brokers compare them the same way.
 */
import type { Payload } from '../../protocol/envelope.ts';
import { compareOffsets } from '../../protocol/offset.ts';
import { ORIGIN_OFFSET, type HistoryEntry, type Recovery } from '../broker.ts';
import { TopicMap } from './topicMap.ts';

/** Where an appended message landed. */
export interface Appended {
  offset: string;
  /** Offset of the message before this one in the topic (`0-0` for the first). */
  prev: string;
}

interface Stored extends HistoryEntry {
  atMs: number;
}

class TopicLog {
  private entries: Stored[] = [];
  private head = 0;
  private lastMs: number;
  private lastSeq = 0;
  /**
   * Everything at or before this offset is unknown to this log: dropped by trimming, or
   * from before the log existed (set on the first append, so that an offset a previous
   * process issued is never vouched for).
   */
  private droppedUpTo: string;

  /** @param startMs for a log that begins at a position handed out earlier (`<startMs>-0`); 0 otherwise */
  constructor(private readonly size: number, private readonly maxAgeMs: number, startMs: number) {
    this.lastMs = startMs;
    this.droppedUpTo = startMs > 0 ? `${startMs}-0` : ORIGIN_OFFSET;
  }

  get lastOffset(): string {
    return `${this.lastMs}-${this.lastSeq}`;
  }

  /** When the newest message was appended (ms). */
  get lastAtMs(): number {
    return this.lastMs;
  }

  append(data: Payload, nowMs: number): Appended {
    const prev = this.lastOffset;
    const first = prev === ORIGIN_OFFSET;
    if (nowMs > this.lastMs) {
      this.lastMs = nowMs;
      this.lastSeq = 0;
    } else {
      this.lastSeq += 1;
    }
    const offset = this.lastOffset;
    if (first) this.droppedUpTo = predecessor(offset);
    this.entries.push({ offset, data, atMs: nowMs });
    this.trim(nowMs);
    return { offset, prev };
  }

  readSince(since: string, limit: number, nowMs: number): Recovery {
    this.trim(nowMs);
    const head = this.lastOffset;
    // An offset this log never issued (from another process or deployment) cannot be vouched for.
    if (compareOffsets(since, head) > 0) return { recovered: false, entries: [], head };
    return { recovered: compareOffsets(since, this.droppedUpTo) >= 0, entries: this.between(since, null, limit), head };
  }

  /** Up to `limit` entries with after < offset < before (no upper bound when before is null), oldest first. */
  between(after: string, before: string | null, limit = Infinity): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.firstAfter(after); i < this.entries.length && out.length < limit; i++) {
      const e = this.entries[i]!;
      if (before !== null && compareOffsets(e.offset, before) >= 0) break;
      out.push({ offset: e.offset, data: e.data });
    }
    return out;
  }

  /** Index of the first retained entry above `after` (binary search: entries are in offset order). */
  private firstAfter(after: string): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareOffsets(this.entries[mid]!.offset, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private trim(nowMs: number): void {
    const minAt = nowMs - this.maxAgeMs;
    while (this.entries.length - this.head > this.size || (this.head < this.entries.length && this.entries[this.head]!.atMs < minAt)) {
      this.droppedUpTo = this.entries[this.head]!.offset;
      this.head += 1;
    }
    // Compact once the dead prefix dominates, so trimming stays amortised O(1).
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/** The largest offset below `offset`. */
function predecessor(offset: string): string {
  const [ms, seq] = offset.split('-').map(Number) as [number, number];
  return seq > 0 ? `${ms}-${seq - 1}` : `${ms - 1}-${Number.MAX_SAFE_INTEGER}`;
}

/**
 * A topic's history: its log, or, for a topic whose position was asked before its first
 * append, the millisecond that position names (`<ms>-0`). A number instead of an empty log
 * because every subscribed topic gets one, and most per-user topics stay quiet.
 */
type TopicHistory = TopicLog | number;

/** Every this many writes (appends and new positions), topics silent for longer than maxAgeMs are dropped. */
const SWEEP_EVERY_WRITES = 4096;

/** The history of every topic, with the reads Broker offers (see there). */
export class TopicLogs {
  private readonly topics = new TopicMap<TopicHistory>();
  private writes = 0;

  /**
   * @param size messages kept per topic
   * @param maxAgeMs messages older than this are dropped
   * @param now clock
   */
  constructor(private readonly size: number, private readonly maxAgeMs: number, private readonly now: () => number) {}

  /** Appends one message; its offset is greater than every earlier one in the topic. */
  append(app: string, topic: string, data: Payload): Appended {
    if (++this.writes % SWEEP_EVERY_WRITES === 0) this.sweep();
    let log = this.topics.get(app, topic);
    if (!(log instanceof TopicLog)) {
      log = new TopicLog(this.size, this.maxAgeMs, log ?? 0);
      this.topics.set(app, topic, log);
    }
    return log.append(data, this.now());
  }

  /**
   * Drops the topics with nothing newer than maxAgeMs: everything in them has aged out, like
   * a Redis history stream that expired. (Offsets then restart from a new log, which never
   * vouches for the old ones.)
   */
  private sweep(): void {
    const cutoff = this.now() - this.maxAgeMs;
    for (const [app, topic, history] of this.topics.entries()) {
      if ((typeof history === 'number' ? history : history.lastAtMs) < cutoff) this.topics.delete(app, topic);
    }
  }

  readSince(app: string, topic: string, since: string, limit: number): Recovery {
    const history = this.topics.get(app, topic);
    if (history === undefined) return { recovered: false, entries: [], head: ORIGIN_OFFSET };
    if (typeof history === 'number') {
      const head = `${history}-0`;
      return { recovered: compareOffsets(since, head) === 0, entries: [], head };
    }
    return history.readSince(since, limit, this.now());
  }

  readBetween(app: string, topic: string, after: string, before: string): HistoryEntry[] {
    const history = this.topics.get(app, topic);
    return history instanceof TopicLog ? history.between(after, before) : [];
  }

  position(app: string, topic: string): string {
    const history = this.topics.get(app, topic);
    if (history instanceof TopicLog) return history.lastOffset;
    if (history !== undefined) return `${history}-0`;
    if (++this.writes % SWEEP_EVERY_WRITES === 0) this.sweep();
    const ms = Math.max(1, this.now());
    this.topics.set(app, topic, ms);
    return `${ms}-0`;
  }
}
