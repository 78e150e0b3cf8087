/**
 * History: a capped, ordered log per (app, topic) whose entry IDs are the offsets clients
 * see. Recovery by offset reads it, and so does an instance that finds a gap in what its
 * inbox delivered.
 */
export interface HistoryEntry {
  offset: string;
  /** JSON text of the payload. */
  data: string;
}

export interface Appended {
  offset: string;
  /** Offset of the message before this one in the topic (`0-0` for the first). */
  prev: string;
}

export interface Recovery {
  /** True when `entries` holds every message after the requested offset (no gap). */
  recovered: boolean;
  /** Messages after the requested offset that are still in history, oldest first. */
  entries: HistoryEntry[];
}

/** The offset before every offset. */
export const ORIGIN_OFFSET = '0-0';

export interface History {
  /** Appends one message; its offset is greater than every earlier one in the topic. */
  append(app: string, topic: string, data: string): Promise<Appended>;
  /** Every retained message with an offset greater than `since`. */
  readSince(app: string, topic: string, since: string): Promise<Recovery>;
  /** Retained messages with `after < offset < before`, oldest first. */
  readBetween(app: string, topic: string, after: string, before: string): Promise<HistoryEntry[]>;
  /** Offset of the newest message ever appended (`0-0` when none). */
  head(app: string, topic: string): Promise<string>;
}
