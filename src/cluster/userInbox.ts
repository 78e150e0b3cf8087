/**
 * The durable per-user inbox, and the send path of direct messages. Per (app, user) it keeps
 * the messages not yet confirmed, in ID order (IDs are opaque strings, strictly increasing per
 * user), capped by length (USER_INBOX_MAX_LENGTH) and age (USER_INBOX_TTL_MS); a message
 * dropped by either before it was confirmed marks the inbox `lost`.
 *
 * **Send** is one operation, atomic per user, like Broker.publish for topics: append to the
 * user's inbox (deduplicated by the sender's idempotency key), then read the user's instances
 * from the user registry, then write a `direct` envelope to each of their instance inboxes
 * (in a Redis Cluster that last write follows the script). A session registers its instance
 * in the registry *before* it reads the user inbox; the append comes *before* the registry
 * read; both keys share a slot, so Redis orders them: a message is either in what the
 * session reads, or routed to its instance (or both; the session drops repeats by ID).
 * docs/users.md argues it in full.
 */
import type { Payload } from '../protocol/envelope.ts';

/** One direct message to send. */
export interface DirectItem {
  /** The sending user; null for the server API and the bridge. */
  from: string | null;
  /** JSON text of the payload, or its bytes. */
  data: Payload;
  /** The sender's idempotency key: the same key within the dedupe window stores the message once. */
  key?: string;
}

export interface SentDirect {
  messageId: string;
  /** The ID of the user's message before this one (`0-0` for the first). */
  prev: string;
  /** The key was seen within the dedupe window: nothing was stored; messageId is the stored one's. */
  duplicate: boolean;
}

/** A stored, unconfirmed direct message. */
export interface StoredDirect {
  messageId: string;
  from: string | null;
  data: Payload;
}

export interface UserInboxStatus {
  /** Unconfirmed messages held (after dropping those past the age limit). */
  pending: number;
  /** Messages were dropped unconfirmed (cap or age) since the user last confirmed past them. */
  lost: boolean;
  /** The newest message ID the inbox ever issued (`0-0`): a reader that starts here reads to it. */
  head: string;
}

export interface UserInbox {
  /** See the header: store, then route to the user's instances; resolves once stored. */
  send(app: string, user: string, item: DirectItem): Promise<SentDirect>;
  /** Where the user stands: pending count, lost, head. Drops messages past the age limit first. */
  status(app: string, user: string): Promise<UserInboxStatus>;
  /** Up to `limit` unconfirmed messages with an ID above `after`, oldest first. */
  read(app: string, user: string, after: string, limit: number): Promise<StoredDirect[]>;
  /** Unconfirmed messages with `after < ID < before`, oldest first (gap fill). */
  readBetween(app: string, user: string, after: string, before: string): Promise<StoredDirect[]>;
  /**
   * Confirms every message up to and including `upTo` (removes them). False when `upTo` is
   * not one of the user's message IDs: neither held, nor at or below what was confirmed or
   * dropped already.
   */
  confirm(app: string, user: string, upTo: string): Promise<boolean>;
}

/** Messages per read of a replay: 1,000 pending messages of 64 KiB are ten reads of 6.4 MB. */
export const USER_INBOX_PAGE_MESSAGES = 100;
