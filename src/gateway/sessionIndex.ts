/**
 * The local session index: every session connected to this instance, by ID, and the
 * sessions that left with jobs running and can still be resumed here (their job trackers
 * are kept for the resume window). It opens sessions (fresh or resumed), closes them, and
 * delivers job replies to the session they are for, here or, through SessionDelivery,
 * wherever it is now. Like centrifuge's hub, it knows connections, not topics (see Hub).
 */
import type { SessionDelivery } from '../cluster/sessionDelivery.ts';
import type { SessionDirectory } from '../cluster/sessions.ts';
import type { RpcEnvelope } from '../protocol/envelope.ts';
import { CloseCode, ErrorCode } from '../protocol/codes.ts';
import type { UserInbox, UserInboxStatus } from '../cluster/userInbox.ts';
import type { Claimed } from '../cluster/sessions.ts';
import type { WelcomeFrame } from '../protocol/frames.ts';
import type { UserSessions } from './userSessions.ts';
import type { Logger } from '../lib/log.ts';
import type { JobTracker } from '../rpc/jobTracker.ts';
import type { Admission, Apps } from './auth.ts';
import { encodeWelcome } from './frames.ts';
import type { ResumeTokens } from './resumeTokens.ts';
import { Session, type SessionContext } from './session.ts';
import type { Socket } from './socket.ts';

export interface SessionIndexOptions {
  instanceId: string;
  /** How long a session that left with jobs running can be resumed here. */
  resumeWindowMs: number;
  /** A resumed session is owned in the directory this long (a job's longest wait plus the window). */
  ownershipTtlMs: number;
}

/** How often a paced drain sends the notices that came due. */
const DRAIN_TICK_MS = 10;

interface Detached {
  jobs: JobTracker;
  expiry: ReturnType<typeof setTimeout>;
}

export class SessionIndex implements Iterable<Session> {
  private readonly sessions = new Set<Session>();
  /** Connected sessions by ID (job replies are addressed by session). */
  private readonly byId = new Map<string, Session>();
  /** Sessions that disconnected with jobs running, resumable until their timer fires. */
  private readonly detached = new Map<string, Detached>();
  /** Once draining, a session that leaves is not kept for resuming here. */
  private keepLeavers = true;
  /** Connected sessions per app ID, for the app's maxConnections. */
  private readonly perApp = new Map<string, number>();

  constructor(
    private readonly options: SessionIndexOptions,
    private readonly apps: Apps,
    private readonly resumeTokens: ResumeTokens,
    private readonly directory: SessionDirectory,
    private readonly delivery: SessionDelivery,
    private readonly ctx: SessionContext,
    private readonly log: Logger,
    /** The users of the sessions here (registration, the session quota, direct delivery). */
    private readonly users: UserSessions,
    private readonly userInbox: Pick<UserInbox, 'status'>,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions of `appId` connected here. */
  countOf(appId: string): number {
    return this.perApp.get(appId) ?? 0;
  }

  has(session: Session): boolean {
    return this.sessions.has(session);
  }

  [Symbol.iterator](): Iterator<Session> {
    return this.sessions[Symbol.iterator]();
  }

  /**
   * Opens a session for an accepted connection. With a valid resume token the session keeps
   * its ID and its jobs: it is claimed in the session directory, and the replies parked while
   * it was away are delivered right after the welcome (see Session.resume).
   */
  open(socket: Socket, admission: Extract<Admission, { ok: true }>, resume?: string): Session {
    const { app, userId } = admission;
    const { instanceId } = this.options;
    const resumedId = resume ? this.apps.verifyResume(app, userId, resume) : null;
    const id = resumedId ?? `${instanceId}.${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
    let carried: JobTracker | null = null;
    const local = resumedId ? this.detached.get(resumedId) : undefined;
    if (local) {
      clearTimeout(local.expiry);
      this.detached.delete(id);
      carried = local.jobs;
    }
    // A connection that resumes a session still open here (the old socket not closed yet) takes it over.
    this.byId.get(id)?.disconnect(CloseCode.Normal, 'resumed on another connection');
    const session = new Session(id, app, userId, socket, this.ctx, carried);
    session.authorize(admission.grant);
    this.sessions.add(session);
    this.perApp.set(app.id, this.countOf(app.id) + 1);
    this.byId.set(id, session);
    const welcome: Omit<WelcomeFrame, 'type'> = {
      sessionId: id,
      instanceId,
      userId,
      resumeToken: this.resumeTokens.issue(app, userId, id),
      ...(resume ? { resumed: resumedId !== null } : {}),
    };
    if (!resumedId && userId === null) {
      session.send(encodeWelcome(welcome));
      return session;
    }
    // A user's session, or a resumed one: the welcome waits for the store (see finishOpen).
    session.beginOpen();
    if (resumedId) session.beginResume();
    void this.finishOpen(session, welcome, resumedId);
    return session;
  }

  /**
   * Before the welcome: a user's session joins the user registry (refused with 4504 over the
   * app's maxSessionsPerUser) and, in an app with direct messages, reads its user inbox's
   * status; a resumed session claims the session directory. The registry comes before the
   * user inbox read: a direct message is then either in the inbox when it is read, or routed
   * to this instance (docs/users.md).
   */
  private async finishOpen(session: Session, welcome: Omit<WelcomeFrame, 'type'>, resumedId: string | null): Promise<void> {
    const { app, userId } = session;
    let inbox: UserInboxStatus | null = null;
    if (userId !== null) {
      try {
        if (!(await this.users.join(session))) {
          session.refuse(ErrorCode.LimitExceeded, CloseCode.TooManySessions, `at most ${app.maxSessionsPerUser} sessions per user`);
          return;
        }
        if (session.takesDirect) inbox = await this.userInbox.status(app.id, userId);
      } catch (error) {
        this.log.error('opening a user session failed', { session: session.id, error });
        session.refuse(ErrorCode.Internal, CloseCode.InternalError, 'cannot open the session now; reconnect');
        return;
      }
    }
    let claimed: Claimed | null = null;
    if (resumedId) {
      claimed = await this.directory.claim(resumedId, this.options.instanceId, this.options.ownershipTtlMs).catch((error: unknown) => {
        this.log.error('session resume failed', { session: resumedId, error });
        return { parked: [], open: [] };
      });
    }
    if (session.isClosed) return;
    const withInbox = inbox ? { ...welcome, inbox: { pending: inbox.pending, ...(inbox.lost ? { lost: true as const } : {}) } } : welcome;
    session.opened(encodeWelcome(withInbox), claimed, inbox?.head ?? null);
  }

  /** The connection closed. A session with jobs running stays resumable here for the window. */
  close(session: Session): void {
    session.close();
    if (this.sessions.delete(session)) {
      const left = this.countOf(session.app.id) - 1;
      if (left > 0) this.perApp.set(session.app.id, left);
      else this.perApp.delete(session.app.id);
    }
    if (session.userId !== null) this.users.leave(session);
    if (this.byId.get(session.id) !== session) return; // taken over by a resumed connection
    this.byId.delete(session.id);
    if (session.pendingJobs === 0 || this.options.resumeWindowMs === 0 || !this.keepLeavers) {
      if (session.pendingJobs > 0) session.jobs.dispose();
      return;
    }
    // Jobs are still running: keep them for the resume window; their replies are parked.
    const jobs = session.jobs;
    jobs.attach((envelope) => void this.deliverReply(envelope));
    const expiry = setTimeout(() => {
      this.detached.delete(session.id);
      jobs.dispose();
    }, this.options.resumeWindowMs);
    this.detached.set(session.id, { jobs, expiry });
  }

  /**
   * Delivers a job reply (from a worker, or a timeout) to its session: directly when the
   * session is connected here. Otherwise SessionDelivery decides: parked in the directory
   * while this instance still owns the session (disconnected, resumable), or sent to the
   * instance it resumed on. A session that left with jobs running keeps its tracker here
   * for the resume window, which drops repeats and late replies first.
   */
  async deliverReply(envelope: RpcEnvelope): Promise<void> {
    const session = this.byId.get(envelope.sessionId);
    if (session) {
      session.deliverReply(envelope);
      return;
    }
    const local = this.detached.get(envelope.sessionId);
    if (local && !local.jobs.accept(envelope)) return;
    try {
      await this.delivery.handOver(envelope, this.options.instanceId);
    } catch (error) {
      this.log.warn('job reply delivery failed', { session: envelope.sessionId, error });
    }
  }

  /**
   * Paced drain: every session is told to reconnect elsewhere (4000), the notices spread
   * evenly over `windowMs` (session i of n at i * windowMs / n), so that the other instances
   * see a steady stream of reconnects instead of a storm. Resolves once they all left or
   * `timeoutMs` (from the start, window included) passed, with the number that stayed.
   * Sessions leaving from now on are not kept for resuming here. The inbox reader runs on
   * meanwhile: messages for a session not told yet still reach it.
   */
  async drain(timeoutMs: number, windowMs = 0, onNotice: () => void = () => {}): Promise<number> {
    this.keepLeavers = false;
    const startedAtMs = Date.now();
    const deadline = startedAtMs + timeoutMs;
    const queue = [...this.sessions];
    const n = queue.length;
    // After a stall of the event loop, at most twice a tick's share goes out per tick: the
    // drain then runs late (DRAIN_TIMEOUT_MS still bounds it) instead of sending a burst.
    const perTick = windowMs === 0 ? n : 2 * Math.ceil((n * DRAIN_TICK_MS) / windowMs);
    let next = 0;
    while (next < n) {
      // Everything due by now goes out, then wait for the next tick: timers fire in ms steps,
      // a per-session timer would cost more than it paces.
      const due = windowMs === 0 ? n : Math.min(n, next + perTick, Math.floor(((Date.now() - startedAtMs) * n) / windowMs) + 1);
      for (; next < due; next++) {
        const session = queue[next]!;
        if (!this.sessions.has(session)) continue;
        session.disconnect(CloseCode.Draining, 'instance draining; reconnect');
        onNotice();
      }
      if (next < n) await new Promise((r) => setTimeout(r, DRAIN_TICK_MS));
    }
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, DRAIN_TICK_MS));
    return this.sessions.size;
  }

  /** Forgets everything left (after the server closed): sessions still listed and kept job trackers. */
  clear(): void {
    for (const session of this.sessions) this.close(session);
    for (const { jobs, expiry } of this.detached.values()) {
      clearTimeout(expiry);
      jobs.dispose();
    }
    this.detached.clear();
  }
}
