/**
 * The RPC side of one session: validates and publishes its jobs, times them out, and
 * decides which replies still go to the client. Correlation is by (session, request ID),
 * never by arrival order. A request is settled by its first result, error or timeout;
 * anything after that for the same request is dropped.
 *
 * A tracker outlives its connection while the session is resumable: its replies (a timeout
 * too) go to whatever sink is attached, the session while it is connected, the session
 * index's hand-over while it is away.
 */
import type { OpenJob, SessionDirectory } from '../cluster/sessions.ts';
import { ErrorCode } from '../protocol/codes.ts';
import type { RpcEnvelope } from '../protocol/envelope.ts';
import type { RpcFrame } from '../protocol/frames.ts';
import type { Job } from '../protocol/job.ts';
import type { Logger } from '../lib/log.ts';
import type { JobPublisher } from './jobs.ts';

export interface JobLimits {
  rpcDefaultTimeoutMs: number;
  rpcMaxTimeoutMs: number;
  rpcMaxPendingPerSession: number;
  resumeWindowMs: number;
}

/** What every JobTracker on an instance shares. */
export interface JobTrackerContext {
  instanceId: string;
  jobs: JobPublisher | null;
  sessions: SessionDirectory;
  limits: JobLimits;
  log: Logger;
  /** Records a settled job: its outcome (`result` or an error code) and how long it took (the metrics). */
  observeJob?: (outcome: string, seconds: number) => void;
}

/** Outcomes are labels: a worker's own error codes count as `error`, keeping their number bounded. */
const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Where a tracker's own replies (timeouts) go. */
export type ReplySink = (envelope: RpcEnvelope) => void;

/** Why a job could not be started: sent to the client as an error frame for the request. */
export type Refusal = (code: ErrorCode, message: string) => void;

/** Settled request IDs remembered per session, to drop late replies. */
const SETTLED_MEMORY = 1024;

export class JobTracker {
  // Every session has a tracker; most never run a job. The collections come with the first.
  private pendingJobs: Map<string, ReturnType<typeof setTimeout> | null> | null = null;
  private settledIds: Set<string> | null = null;
  private sink: ReplySink | null = null;
  /** When each job this tracker published went out (allocated with the first). */
  private startedAtMs: Map<string, number> | null = null;

  constructor(
    readonly sessionId: string,
    private readonly appId: string,
    private readonly userId: string | null,
    private readonly ctx: JobTrackerContext,
  ) {}

  /** Where timeouts go from now on (the connected session, or the hand-over while it is away). */
  attach(sink: ReplySink): void {
    this.sink = sink;
  }

  get pendingCount(): number {
    return this.pendingJobs?.size ?? 0;
  }

  private get pending(): Map<string, ReturnType<typeof setTimeout> | null> {
    return (this.pendingJobs ??= new Map());
  }

  /** Publishes a job for an `rpc` frame; answers problems through `refuse`. */
  async start(frame: RpcFrame, refuse: Refusal): Promise<void> {
    const { jobs, limits } = this.ctx;
    if (!jobs?.isReady()) return refuse(ErrorCode.Unavailable, 'jobs are not available on this instance');
    if (this.pending.has(frame.id)) return refuse(ErrorCode.InvalidFrame, 'a job with this id is still running');
    if (this.pending.size >= limits.rpcMaxPendingPerSession) {
      return refuse(ErrorCode.LimitExceeded, `at most ${limits.rpcMaxPendingPerSession} jobs per session`);
    }
    const timeoutMs = Math.min(frame.timeoutMs ?? limits.rpcDefaultTimeoutMs, limits.rpcMaxTimeoutMs);
    const deadlineMs = Date.now() + timeoutMs;
    this.pending.set(frame.id, null);
    (this.startedAtMs ??= new Map()).set(frame.id, Date.now());
    this.settledIds?.delete(frame.id);
    const job: Job = {
      v: 1,
      jobId: crypto.randomUUID(),
      method: frame.method,
      params: frame.params ?? null,
      app: this.appId,
      userId: this.userId,
      deadlineMs,
      replyTo: { sessionId: this.sessionId, requestId: frame.id, instanceId: this.ctx.instanceId },
    };
    // The deadline goes to the session directory, so that if this instance dies, whichever
    // instance the session resumes on times the job out (see claim). Written beside the
    // publish, not before it: an await here would put a Redis round trip on every job's way
    // (measured: 4,782 -> 3,695 jobs/s). Commands to Redis keep their order on the connection,
    // so the job's closeJob can never overtake this record.
    void this.ctx.sessions
      .openJob(this.sessionId, this.ctx.instanceId, { requestId: frame.id, deadlineMs }, limits.rpcMaxTimeoutMs + limits.resumeWindowMs)
      .catch((error) => this.ctx.log.warn('recording a job in the session directory failed: its deadline is kept by this instance only', { session: this.sessionId, request: frame.id, error }));
    try {
      const outcome = await jobs.publish(job);
      if (outcome === 'no_such_method') {
        this.pending.delete(frame.id);
        this.startedAtMs?.delete(frame.id);
        this.closeOpenJob(frame.id);
        return refuse(ErrorCode.NoSuchMethod, `no worker serves ${JSON.stringify(frame.method)}`);
      }
    } catch (error) {
      this.pending.delete(frame.id);
      this.startedAtMs?.delete(frame.id);
      this.closeOpenJob(frame.id);
      this.ctx.log.error('job publish failed', { app: this.appId, session: this.sessionId, request: frame.id, job: job.jobId, method: frame.method, error });
      return refuse(ErrorCode.Unavailable, 'could not publish the job; retry');
    }
    if (!this.pending.has(frame.id)) return; // a reply already settled it
    this.arm(frame.id, deadlineMs, `no result within ${timeoutMs} ms`);
  }

  /** Times a pending request out at its deadline: the timeout goes to the attached sink, like a reply. */
  private arm(requestId: string, deadlineMs: number, message = `no result before the job's deadline (${new Date(deadlineMs).toISOString()})`): void {
    const delayMs = Math.max(0, deadlineMs - Date.now());
    this.pending.set(
      requestId,
      setTimeout(() => {
        if (!this.pending.has(requestId)) return;
        this.sink?.({
          kind: 'rpc',
          reply: 'error',
          sessionId: this.sessionId,
          requestId,
          code: ErrorCode.Timeout,
          message,
        });
      }, delayMs),
    );
  }

  /**
   * After a resume: the session's jobs that no instance answered yet, with their deadlines
   * (from the session directory). Jobs this tracker already times out or has settled are
   * left alone; the others (started on an instance that died, or that the session left) get
   * a timer here, so that each still ends with exactly one result or error.
   */
  adopt(open: readonly OpenJob[]): void {
    for (const { requestId, deadlineMs } of open) {
      if (this.pending.has(requestId) || this.settledIds?.has(requestId)) continue;
      this.arm(requestId, deadlineMs);
    }
  }

  /** The request's result or error reached the client: the directory forgets the job. */
  delivered(envelope: RpcEnvelope): void {
    if (envelope.reply !== 'progress') this.closeOpenJob(envelope.requestId);
  }

  private closeOpenJob(requestId: string): void {
    this.ctx.sessions.closeJob(this.sessionId, requestId).catch((error) => this.ctx.log.warn('closing a job in the session directory failed', { session: this.sessionId, request: requestId, error }));
  }

  /**
   * Whether a reply goes to the client. Progress goes while the request is open; the first
   * result or error settles it. Requests this tracker never saw (started before a resume on
   * another instance) are accepted unless already settled.
   */
  accept(envelope: RpcEnvelope): boolean {
    if (this.settledIds?.has(envelope.requestId)) return false;
    if (envelope.reply !== 'progress') {
      this.observe(envelope);
      this.settle(envelope.requestId);
    }
    return true;
  }

  private observe(envelope: RpcEnvelope): void {
    const startedAtMs = this.startedAtMs?.get(envelope.requestId);
    if (startedAtMs === undefined) return;
    this.startedAtMs!.delete(envelope.requestId);
    const outcome = envelope.reply === 'result' ? 'result' : envelope.reply === 'error' && KNOWN_CODES.has(envelope.code) ? envelope.code : 'error';
    this.ctx.observeJob?.(outcome, (Date.now() - startedAtMs) / 1000);
  }

  /** The request got its result or error: its timer stops, and later replies are dropped. */
  settle(requestId: string): void {
    const timer = this.pending.get(requestId);
    if (timer) clearTimeout(timer);
    this.pending.delete(requestId);
    this.startedAtMs?.delete(requestId);
    const settled = (this.settledIds ??= new Set());
    settled.add(requestId);
    if (settled.size > SETTLED_MEMORY) settled.delete(settled.values().next().value!);
  }

  /** Stops the timers (the session is gone for good). */
  dispose(): void {
    if (!this.pendingJobs) return;
    for (const timer of this.pendingJobs.values()) if (timer) clearTimeout(timer);
    this.pendingJobs.clear();
    this.startedAtMs = null;
  }
}
