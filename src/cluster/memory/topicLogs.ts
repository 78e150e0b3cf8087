/**
 * The history of MemoryBroker: one bounded log per (app, topic). Offsets follow the Redis
 * Stream ID shape (`<ms>-<seq>`) so that both brokers compare them the same way.
 */
import type { Payload } from '../../protocol/envelope.ts';
import { compareOffsets } from '../../protocol/offset.ts';
import { type HistoryEntry, type Recovery } from '../broker.ts';
import { TopicMap } from './topicMap.ts';

/** Where an appended message landed. */
export interface Appended {
  offset: string;
  /** Offset of the message before this one in the topic (for the first, the topic's position before it: the epoch). */
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
   * Everything before this offset is unknown to this log: dropped by trimming, or from
   * before the log began (so that an offset a previous process or log issued is never
   * vouched for).
   */
  private droppedUpTo: string;

  /** @param start the position the log begins at (`<startMs>-0`, TopicLogs' epoch): its first message comes after it */
  constructor(private readonly size: number, private readonly maxAgeMs: number, startMs: number, start: string) {
    this.lastMs = startMs;
    this.droppedUpTo = start;
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
    if (nowMs > this.lastMs) {
      this.lastMs = nowMs;
      this.lastSeq = 0;
    } else {
      this.lastSeq += 1;
    }
    const offset = this.lastOffset;
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

/** Every this many appends, topics silent for longer than maxAgeMs are dropped. */
const SWEEP_EVERY_WRITES = 4096;

/**
 * The history of every topic, with the reads Broker offers (see there).
 *
 * A topic without a log (no message yet, or its log was dropped) stores nothing: its position
 * is the epoch, `<epochMs>-0`, one string shared by every such topic. Most per-user topics
 * stay quiet, so a subscribed topic costs nothing here until its first message. The epoch is
 * when this history began (so a later process never vouches for the positions of an earlier
 * one), and moves to the present when silent logs are dropped (so a dropped topic's position
 * never goes back, and a position from before its log is not vouched for). It moves at most
 * once per maxAgeMs: a position handed out stays vouched for at least until its epoch is
 * maxAgeMs old, and a silent log is dropped within twice maxAgeMs.
 */
export class TopicLogs {
  private readonly topics = new TopicMap<TopicLog>();
  private writes = 0;
  private epochMs: number;
  private epochPosition: string;

  /**
   * @param size messages kept per topic
   * @param maxAgeMs messages older than this are dropped
   * @param now clock
   */
  constructor(private readonly size: number, private readonly maxAgeMs: number, private readonly now: () => number) {
    this.epochMs = Math.max(1, now());
    this.epochPosition = `${this.epochMs}-0`;
  }

  /** Appends one message; its offset is greater than every earlier one in the topic. */
  append(app: string, topic: string, data: Payload): Appended {
    if (++this.writes % SWEEP_EVERY_WRITES === 0) this.sweep();
    let log = this.topics.get(app, topic);
    if (log === undefined) {
      log = new TopicLog(this.size, this.maxAgeMs, this.epochMs, this.epochPosition);
      this.topics.set(app, topic, log);
    }
    return log.append(data, this.now());
  }

  /**
   * Drops the topics with nothing newer than maxAgeMs: everything in them has aged out, like
   * a Redis history stream that expired. Only once the epoch is maxAgeMs old, since dropping
   * moves it (see the class comment).
   */
  private sweep(): void {
    const now = this.now();
    const cutoff = now - this.maxAgeMs;
    if (this.epochMs >= cutoff) return;
    let dropped = false;
    for (const [app, topic, log] of this.topics.entries()) {
      if (log.lastAtMs < cutoff) {
        this.topics.delete(app, topic);
        dropped = true;
      }
    }
    if (!dropped) return;
    this.epochMs = Math.max(now, this.epochMs + 1);
    this.epochPosition = `${this.epochMs}-0`;
  }

  readSince(app: string, topic: string, since: string, limit: number): Recovery {
    const log = this.topics.get(app, topic);
    if (log === undefined) return { recovered: since === this.epochPosition, entries: [], head: this.epochPosition };
    return log.readSince(since, limit, this.now());
  }

  readBetween(app: string, topic: string, after: string, before: string): HistoryEntry[] {
    return this.topics.get(app, topic)?.between(after, before) ?? [];
  }

  position(app: string, topic: string): string {
    return this.topics.get(app, topic)?.lastOffset ?? this.epochPosition;
  }
}
