/**
 * Session directory: which instance owns a session that has jobs running, and a mailbox for
 * job replies that arrive while the session is disconnected. Resuming on another instance
 * claims the session (and empties its mailbox) atomically; an instance holding a reply for
 * a session it no longer owns learns the new owner instead of parking the reply.
 */
import type { RpcEnvelope } from '../protocol/envelope.ts';

export type ParkOutcome = { parked: true } | { parked: false; owner: string | null };

export interface SessionDirectory {
  /** Makes `instanceId` the owner for `ttlMs`; returns (and removes) what was parked for the session. */
  claim(sessionId: string, instanceId: string, ttlMs: number): Promise<RpcEnvelope[]>;
  /**
   * Takes or extends ownership only when nobody else owns the session: a job started just
   * before the client resumed elsewhere must not pull the session back. False: another
   * instance owns it now.
   */
  claimIfFree(sessionId: string, instanceId: string, ttlMs: number): Promise<boolean>;
  /** The current owner, or null when nobody owns the session (never claimed, or expired). */
  owner(sessionId: string): Promise<string | null>;
  /**
   * Parks a reply for a disconnected session, if `instanceId` still owns it. Otherwise says
   * who does (null: nobody; the reply is dropped).
   */
  park(sessionId: string, instanceId: string, envelope: RpcEnvelope, ttlMs: number): Promise<ParkOutcome>;
  /** Forgets a session (it closed for good). */
  release(sessionId: string, instanceId: string): Promise<void>;
}

/** Replies kept per disconnected session; older ones are dropped first. */
export const MAILBOX_LIMIT = 1000;
