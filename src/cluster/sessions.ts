/**
 * Session directory: where a session with jobs running lives, what replies wait for it, and
 * which of its jobs are still open with their deadlines.
 *
 * - The **owner** is the instance that holds the session (or held it last). Resuming on
 *   another instance claims the session, empties its mailbox and returns its open jobs,
 *   atomically, so a reply is never lost between the two.
 * - The **mailbox** keeps replies that arrived while the session was away. Only a holder
 *   that owns the session may park there; anyone else learns the owner and forwards.
 * - The **open jobs** (request ID -> deadline) let whichever instance the session resumes on
 *   time them out: a job's deadline must not live only in the memory of the instance that
 *   accepted it, which may die (docs/rpc.md: every request ends with one result or error).
 */
import type { RpcEnvelope } from '../protocol/envelope.ts';

export type ParkOutcome = { parked: true } | { parked: false; owner: string | null };

/** A job of the session that has not been answered yet. */
export interface OpenJob {
  requestId: string;
  /** Epoch ms after which the job times out. */
  deadlineMs: number;
}

export interface Claimed {
  /** Replies parked while the session was away, in arrival order. */
  parked: RpcEnvelope[];
  /** Jobs started and not answered yet (by request ID). */
  open: OpenJob[];
}

export interface SessionDirectory {
  /** Makes `instanceId` the owner for `ttlMs`; returns (and removes) what was parked, and the open jobs. */
  claim(sessionId: string, instanceId: string, ttlMs: number): Promise<Claimed>;
  /**
   * Records a job the session started, and takes or extends ownership for `ttlMs` unless
   * another instance owns the session (a job started just before the client resumed
   * elsewhere must not pull the session back). False: another instance owns it now.
   */
  openJob(sessionId: string, instanceId: string, job: OpenJob, ttlMs: number): Promise<boolean>;
  /** The job got its result or error at the client: it is no longer open. */
  closeJob(sessionId: string, requestId: string): Promise<void>;
  /** The current owner, or null when nobody owns the session (never claimed, or expired). */
  owner(sessionId: string): Promise<string | null>;
  /**
   * Parks a reply for a disconnected session, if `holder` owns it (the holder may be a dead
   * instance whose inbox is being reaped). Otherwise says who does (null: nobody; the reply
   * is dropped).
   */
  park(sessionId: string, holder: string, envelope: RpcEnvelope, ttlMs: number): Promise<ParkOutcome>;
  /** Forgets a session (it closed for good). */
  release(sessionId: string, instanceId: string): Promise<void>;
}

/** Replies kept per disconnected session; older ones are dropped first. */
export const MAILBOX_LIMIT = 1000;
