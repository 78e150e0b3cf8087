/**
 * History: a capped, ordered log per (app, topic) whose entry IDs are the offsets clients
 * see. Recovery by offset reads it.
 */
export interface HistoryEntry {
  offset: string;
  /** JSON text of the payload. */
  data: string;
}

export interface Recovery {
  /** True when `entries` holds every message after the requested offset (no gap). */
  recovered: boolean;
  /** Messages after the requested offset that are still in history, oldest first. */
  entries: HistoryEntry[];
}

export interface History {
  /** Appends one message; resolves with its offset, greater than every earlier one in the topic. */
  append(app: string, topic: string, data: string): Promise<string>;
  /** Every retained message with an offset greater than `since`. */
  readSince(app: string, topic: string, since: string): Promise<Recovery>;
}
