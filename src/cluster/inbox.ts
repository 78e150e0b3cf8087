/**
 * Inbox: whatever must reach sessions on an instance is appended to that instance's inbox;
 * the instance reads its own inbox, delivers, and only then acknowledges.
 */
import type { Envelope } from '../protocol/envelope.ts';

export interface Addressed {
  instanceId: string;
  envelope: Envelope;
}

/** Called with envelopes in inbox order. Entries are acknowledged after it resolves. */
export type EnvelopeHandler = (envelopes: readonly Envelope[]) => void | Promise<void>;

/** How far behind this instance's reader is (the metrics; see docs/operations.md). */
export interface InboxStats {
  /** Entries read but not acknowledged yet. */
  pending: number;
  /** Entries not read yet. */
  lag: number;
}

export interface Inbox {
  /**
   * Appends each envelope to its instance's inbox; resolves once all are stored, with the
   * instances that have no inbox (retired or reaped): nothing was stored for those.
   */
  send(batch: readonly Addressed[]): Promise<string[]>;
  /** Starts reading this instance's own inbox into `handler`. */
  start(handler: EnvelopeHandler): Promise<void>;
  /** Makes sure this instance's inbox exists (after the store lost it); idempotent. */
  ensure(): Promise<void>;
  /** Stops reading; entries not yet handled stay in the inbox. */
  stop(): Promise<void>;
  /** This instance's inbox backlog, for the metrics. */
  stats(): Promise<InboxStats>;
}
