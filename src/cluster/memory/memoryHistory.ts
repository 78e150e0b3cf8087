/**
 * In-memory History: one bounded log per (app, topic). Offsets follow the Redis Stream ID
 * shape (`<ms>-<seq>`) so that both backends compare them the same way.
 */
import { compareOffsets } from '../../protocol/offset.ts';
import type { History, HistoryEntry, Recovery } from '../history.ts';

interface Stored extends HistoryEntry {
  atMs: number;
}

class TopicLog {
  private entries: Stored[] = [];
  private head = 0;
  private lastMs = 0;
  private lastSeq = 0;
  /** Offset of the newest entry ever dropped; anything at or before it is gone. */
  private droppedUpTo = '0-0';

  constructor(private readonly size: number, private readonly maxAgeMs: number) {}

  get lastOffset(): string {
    return `${this.lastMs}-${this.lastSeq}`;
  }

  append(data: string, nowMs: number): string {
    if (nowMs > this.lastMs) {
      this.lastMs = nowMs;
      this.lastSeq = 0;
    } else {
      this.lastSeq += 1;
    }
    const offset = this.lastOffset;
    this.entries.push({ offset, data, atMs: nowMs });
    this.trim(nowMs);
    return offset;
  }

  readSince(since: string, nowMs: number): Recovery {
    this.trim(nowMs);
    // An offset this log never issued (from before a restart, or another deployment)
    // cannot be vouched for.
    if (compareOffsets(since, this.lastOffset) > 0) return { recovered: false, entries: [] };
    const recovered = compareOffsets(since, this.droppedUpTo) >= 0;
    const entries: HistoryEntry[] = [];
    for (let i = this.entries.length - 1; i >= this.head; i--) {
      const e = this.entries[i]!;
      if (compareOffsets(e.offset, since) <= 0) break;
      entries.push({ offset: e.offset, data: e.data });
    }
    entries.reverse();
    return { recovered, entries };
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

export class MemoryHistory implements History {
  private readonly logs = new Map<string, TopicLog>();

  /**
   * @param size messages kept per topic
   * @param maxAgeMs messages older than this are dropped
   * @param now clock, injectable for tests
   */
  constructor(private readonly size: number, private readonly maxAgeMs: number, private readonly now: () => number = Date.now) {}

  private log(app: string, topic: string): TopicLog {
    const key = `${app}:${topic}`;
    let log = this.logs.get(key);
    if (!log) {
      log = new TopicLog(this.size, this.maxAgeMs);
      this.logs.set(key, log);
    }
    return log;
  }

  async append(app: string, topic: string, data: string): Promise<string> {
    return this.log(app, topic).append(data, this.now());
  }

  async readSince(app: string, topic: string, since: string): Promise<Recovery> {
    const log = this.logs.get(`${app}:${topic}`);
    if (!log) return { recovered: false, entries: [] };
    return log.readSince(since, this.now());
  }
}
