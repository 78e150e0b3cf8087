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
}
