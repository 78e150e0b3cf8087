/**
 * Delivers a job reply to its session wherever the session is now: the one answer to "where
 * is session S?", used by the bridge (replies from workers), the gateway (replies for a
 * session that is not connected to it) and the reaper (what a dead instance left in its
 * inbox).
 *
 * The session directory is the authority: its owner is the instance that holds the session
 * or held it last. A reply goes to the owner's inbox; if the holder of a reply owns the
 * session itself (the session is away, or its instance died before it resumed), the reply is
 * parked in the session's mailbox, and resuming anywhere claims it. Ownership and parking are
 * one atomic step (SessionDirectory.park), so a reply is never parked for an owner that has
 * moved on.
 */
import type { RpcEnvelope } from '../protocol/envelope.ts';
import type { Logger } from '../lib/log.ts';
import type { Inbox } from './inbox.ts';
import type { SessionDirectory } from './sessions.ts';

export type DeliveryOutcome = 'sent' | 'parked' | 'orphaned';

/** An owner whose inbox is gone hands the reply on; this bounds the chain of moves followed. */
const MAX_HOPS = 4;

export class SessionDelivery {
  constructor(
    private readonly inbox: Pick<Inbox, 'send'>,
    private readonly sessions: SessionDirectory,
    /** How long a parked reply waits for its session (the resume window). */
    private readonly parkTtlMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Appends the reply to `via`'s inbox (the instance that accepted the job: one write in the
   * common case). If that inbox is gone (the instance retired, or died and is being reaped),
   * the directory decides as in handOver.
   */
  async send(envelope: RpcEnvelope, via: string): Promise<DeliveryOutcome> {
    const missing = await this.inbox.send([{ instanceId: via, envelope }]);
    if (missing.length === 0) return 'sent';
    return this.handOver(envelope, via);
  }

  /**
   * For a reply that `holder` has and cannot deliver itself (its session is not connected to
   * it, or `holder` is a dead instance whose inbox is being reaped): parked when `holder`
   * still owns the session, else sent to the owner's inbox; dropped when nobody owns the
   * session (closed for good, or its resume window passed).
   */
  async handOver(envelope: RpcEnvelope, holder: string): Promise<DeliveryOutcome> {
    let from = holder;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      const outcome = await this.sessions.park(envelope.sessionId, from, envelope, this.parkTtlMs);
      if (outcome.parked) return 'parked';
      if (outcome.owner === null) {
        this.log.debug('job reply for a session nobody owns; dropped', { session: envelope.sessionId, request: envelope.requestId });
        return 'orphaned';
      }
      const missing = await this.inbox.send([{ instanceId: outcome.owner, envelope }]);
      if (missing.length === 0) return 'sent';
      // The owner's inbox is gone too (it died after the session moved there): park for it.
      from = outcome.owner;
    }
    this.log.warn('job reply dropped: its session kept moving', { session: envelope.sessionId, request: envelope.requestId });
    return 'orphaned';
  }
}
