/**
 * In-memory History: one bounded log per (app, topic). Offsets follow the Redis Stream ID
 * shape (`<ms>-<seq>`) so that both backends compare them the same way.
 */
import { compareOffsets } from '../../protocol/offset.ts';
import { ORIGIN_OFFSET, type Appended, type History, type HistoryEntry, type Recovery } from '../history.ts';

interface Stored extends HistoryEntry {
  atMs: number;
}

class TopicLog {
  private entries: Stored[] = [];
  private head = 0;
  private lastMs = 0;
  private lastSeq = 0;
  /**
   * Everything at or before this offset is unknown to this log: dropped by trimming, or
   * from before the log existed (set on the first append, so that an offset a previous
   * process issued is never vouched for).
   */
  private droppedUpTo = ORIGIN_OFFSET;

  constructor(private readonly size: number, private readonly maxAgeMs: number) {}

  get lastOffset(): string {
    return `${this.lastMs}-${this.lastSeq}`;
  }

  /** When the newest message was appended (ms). */
  get lastAtMs(): number {
    return this.lastMs;
  }

  append(data: string, nowMs: number): Appended {
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

  readSince(since: string, nowMs: number): Recovery {
    this.trim(nowMs);
    // An offset this log never issued (from another process or deployment) cannot be vouched for.
    if (compareOffsets(since, this.lastOffset) > 0) return { recovered: false, entries: [] };
    return { recovered: compareOffsets(since, this.droppedUpTo) >= 0, entries: this.between(since, null) };
  }

  /** Entries with after < offset < before (no upper bound when before is null), oldest first. */
  between(after: string, before: string | null): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.entries.length - 1; i >= this.head; i--) {
      const e = this.entries[i]!;
      if (compareOffsets(e.offset, after) <= 0) break;
      if (before === null || compareOffsets(e.offset, before) < 0) out.push({ offset: e.offset, data: e.data });
    }
    return out.reverse();
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

/** Every this many appends, logs of topics silent for longer than maxAgeMs are dropped. */
const SWEEP_EVERY_APPENDS = 4096;

export class MemoryHistory implements History {
  private readonly logs = new Map<string, TopicLog>();
  private appends = 0;

  /**
   * @param size messages kept per topic
   * @param maxAgeMs messages older than this are dropped
   * @param now clock, injectable for tests
   */
  constructor(private readonly size: number, private readonly maxAgeMs: number, private readonly now: () => number = Date.now) {}

  async append(app: string, topic: string, data: string): Promise<Appended> {
    if (++this.appends % SWEEP_EVERY_APPENDS === 0) this.sweep();
    const key = `${app}:${topic}`;
    let log = this.logs.get(key);
    if (!log) {
      log = new TopicLog(this.size, this.maxAgeMs);
      this.logs.set(key, log);
    }
    return log.append(data, this.now());
  }

  /**
   * Drops the logs of topics with nothing newer than maxAgeMs: everything in them has aged
   * out, like a Redis history stream that expired. (Offsets then restart from a new log,
   * which never vouches for the old ones.)
   */
  private sweep(): void {
    const cutoff = this.now() - this.maxAgeMs;
    for (const [key, log] of this.logs) if (log.lastAtMs < cutoff) this.logs.delete(key);
  }

  async readSince(app: string, topic: string, since: string): Promise<Recovery> {
    const log = this.logs.get(`${app}:${topic}`);
    if (!log) return { recovered: false, entries: [] };
    return log.readSince(since, this.now());
  }

  async readBetween(app: string, topic: string, after: string, before: string): Promise<HistoryEntry[]> {
    return this.logs.get(`${app}:${topic}`)?.between(after, before) ?? [];
  }

  async head(app: string, topic: string): Promise<string> {
    return this.logs.get(`${app}:${topic}`)?.lastOffset ?? ORIGIN_OFFSET;
  }
}
