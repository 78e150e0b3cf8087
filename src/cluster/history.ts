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
  /**
   * True when history vouches for the requested offset and nothing after it was dropped:
   * it was issued by this log (it is not above `head`, not from an earlier incarnation),
   * and trimming has not passed it.
   */
  recovered: boolean;
  /** Up to `limit` retained messages after the requested offset, oldest first. */
  entries: HistoryEntry[];
  /** The topic's position when it was read (see History.position); `0-0` when it has no log. */
  head: string;
}

/** The offset before every offset. */
export const ORIGIN_OFFSET = '0-0';

/**
 * Messages per readSince call for readers that page through history (a replay, a catch-up):
 * at the largest frame (MAX_FRAME_BYTES, 64 KiB by default) a page is 6.4 MB, and a replay
 * of a full history (HISTORY_SIZE, 1,000 by default) is ten round trips.
 */
export const HISTORY_PAGE_MESSAGES = 100;

export interface History {
  /** Appends one message; its offset is greater than every earlier one in the topic. */
  append(app: string, topic: string, data: string): Promise<Appended>;
  /**
   * Up to `limit` retained messages with an offset greater than `since`; a reader that wants
   * more continues from the last one's offset.
   */
  readSince(app: string, topic: string, since: string, limit: number): Promise<Recovery>;
  /** Retained messages with `after < offset < before`, oldest first. */
  readBetween(app: string, topic: string, after: string, before: string): Promise<HistoryEntry[]>;
  /**
   * The topic's position: the offset of its newest message, or, for a topic without one, an
   * offset below its first message to come. readSince vouches for it (`recovered: true`) as
   * long as the log lives: for a topic without a log, this creates an empty one, so that its
   * first append does not take the position for one from an earlier incarnation.
   */
  position(app: string, topic: string): Promise<string>;
}
