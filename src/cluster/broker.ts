/**
 * Broker: the topics of the cluster. Per (app, topic) it keeps
 *
 * - the **history**: a capped, ordered log whose entry IDs are the offsets clients see.
 *   Recovery by offset reads it, and so does an instance that finds a gap in what its inbox
 *   delivered;
 * - the **routes**: which instances have local subscribers of the topic. A publish goes to
 *   those instances' inboxes only, never to every instance;
 *
 * and it **publishes**: appending to history, deduplicating by message ID, reading the
 * routes and writing to the routed instances' inboxes is one operation, atomic per topic.
 * One seam, not one for history and one for routes, because gap-free recovery rests on the
 * order of these steps (the append before the route read; docs/architecture.md, "Route
 * before history"): kept behind one interface, that order is the implementation's to keep,
 * not a promise between callers. (centrifuge's Broker says the same of history and PUB/SUB.)
 */
import type { Payload } from '../protocol/envelope.ts';

/** One message to publish: its payload (JSON text, or bytes), and the producer's ID for dedupe. */
export interface PublishItem {
  data: Payload;
  messageId?: string;
}

/** Messages for one topic, in publish order. */
export interface TopicBatch {
  app: string;
  topic: string;
  items: readonly PublishItem[];
}

export interface Published {
  offset: string;
  /** Offset of the message before this one in the topic (`0-0` for the first). */
  prev: string;
  /** The message ID was seen within the dedupe window: nothing was appended; offset and prev are the stored ones. */
  duplicate: boolean;
}

/**
 * What an answer-less publish says of one batch: null when it was stored, else the error it
 * failed with.
 */
export type BatchOutcome = string | null;

export interface HistoryEntry {
  offset: string;
  /** JSON text of the payload, or its bytes (a binary message is replayed as one). */
  data: Payload;
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
  /**
   * The topic's position when it was read (see Broker.position). For a topic without
   * messages: `0-0` in Redis, the history's epoch in memory (see memory/topicLogs.ts).
   */
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

export interface Broker {
  /**
   * For each batch, appends its items to the topic's history in order, then sends an
   * envelope for each to the inbox of every instance routed for the topic. Routes are read
   * after the append, which gap-free recovery relies on. An item whose `messageId` was seen
   * within the dedupe window is neither appended nor sent again. One round trip for all the
   * batches on standalone Redis. Resolves, per batch and item, once everything is stored;
   * rejects when a batch failed.
   */
  publish(batches: readonly TopicBatch[], options?: { answer: true }): Promise<Published[][]>;
  /**
   * The same writes for a caller that needs no offsets (the bridge): less to answer. Each
   * batch stands alone: resolves per batch with its outcome, so that one broken topic cannot
   * hold back the others. Rejects when nothing could be stored (the store unreachable).
   */
  publish(batches: readonly TopicBatch[], options: { answer: false }): Promise<BatchOutcome[]>;

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
   * first publish does not take the position for one from an earlier incarnation.
   */
  position(app: string, topic: string): Promise<string>;

  /** Routes the topic's publishes to `instanceId`'s inbox (it has local subscribers now). */
  addRoute(app: string, topic: string, instanceId: string): Promise<void>;
  removeRoute(app: string, topic: string, instanceId: string): Promise<void>;
  /** Removes every route of an instance (it stopped, or died); resolves with how many there were. */
  removeRoutes(instanceId: string): Promise<number>;
  /** The instances routed for the topic. */
  routes(app: string, topic: string): Promise<string[]>;
}
