/**
 * One gateway instance: owns the sessions, the hub and the HTTP server, reads its inbox,
 * heartbeats into the instance registry, and shuts down in order (stop accepting, drain
 * sessions with the reconnect close code, stop the inbox reader, leave the registry).
 */
import type { Config } from '../config.ts';
import type { ClusterBackend } from '../cluster/backend.ts';
import type { InstanceInfo } from '../cluster/registry.ts';
import { TopicPublisher } from '../cluster/topicPublisher.ts';
import { SessionDelivery } from '../cluster/sessionDelivery.ts';
import type { Envelope, RpcEnvelope } from '../protocol/envelope.ts';
import type { JobPublisher } from '../rpc/jobs.ts';
import { CloseCode } from '../protocol/codes.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import { stopInOrder, type StopStep } from '../lib/serviceList.ts';
import { createApp } from './app.ts';
import { Tenants, type Admission } from './auth.ts';
import { serve, type RunningServer } from './bun.ts';
import { encodeWelcome } from './frames.ts';
import { Hub } from './hub.ts';
import { ResumeTokens } from './resumeTokens.ts';
import { JobTracker, type JobContext } from './jobTracker.ts';
import { Session, type SessionContext } from './session.ts';
import type { Socket } from './socket.ts';

/** One getBufferedAmount() call per session this often: about 40 µs per 1,000 sessions. */
const SLOW_CONSUMER_SWEEP_MS = 250;

/**
 * Bounds of the stop steps besides the drain's DRAIN_TIMEOUT_MS. Past one, the step is
 * logged as timed out and the next runs; what a retire could not remove is reaped by the
 * other instances (after INSTANCE_TTL_MS). Sum with the drain: DRAIN_TIMEOUT_MS + 5 s.
 */
const STOP_STEP_TIMEOUT_MS = {
  stopAccepting: 500,
  /** Closing the server and whatever session did not leave within DRAIN_TIMEOUT_MS. */
  closeSessions: 1000,
  /** The reader ends at once, whatever Redis does (RedisInbox.stop). */
  inboxReader: 1000,
  /** Three round trips, or waiting for a store that is reconnecting: long enough for a short outage to end. */
  retire: 2500,
} as const;

type State = 'idle' | 'starting' | 'running' | 'draining' | 'stopped';

export class Gateway implements Service {
  readonly instanceId: string;
  readonly tenants: Tenants;
  private readonly resumeTokens: ResumeTokens;
  readonly hub: Hub;
  readonly publisher: TopicPublisher;
  readonly sessions = new Set<Session>();
  /** Connected sessions by ID (job replies are addressed by session). */
  private readonly byId = new Map<string, Session>();
  /** Sessions that disconnected with jobs running, resumable until their timer fires. */
  private readonly detached = new Map<string, { jobs: JobTracker; expiry: ReturnType<typeof setTimeout> }>();
  private readonly jobCtx: JobContext;
  private readonly delivery: SessionDelivery;
  readonly maxFrameBytes: number;
  readonly log: Logger;
  private readonly ctx: SessionContext;
  private readonly startedAtMs = Date.now();
  private server: RunningServer | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private slowConsumerTimer: ReturnType<typeof setInterval> | null = null;
  private heartbeating = false;
  private registered = false;
  /** Set from a store reconnect until this instance checked (and if needed restored) its state. */
  private restoring = false;
  private state: State = 'idle';
  private nextSession = 0;

  constructor(
    private readonly config: Config,
    private readonly backend: ClusterBackend,
    log: Logger,
    /** Null: no RabbitMQ configured; `rpc` frames get `unavailable`. */
    jobs: JobPublisher | null = null,
  ) {
    this.instanceId = config.instanceId;
    this.log = log;
    this.maxFrameBytes = config.maxFrameBytes;
    this.tenants = new Tenants(config.apps);
    this.resumeTokens = new ResumeTokens(this.tenants, config.resumeWindowMs);
    this.hub = new Hub(config.instanceId, backend.broker, log);
    this.publisher = new TopicPublisher(backend.broker);
    this.delivery = new SessionDelivery(backend.inbox, backend.sessions, config.resumeWindowMs, log);
    this.jobCtx = {
      instanceId: config.instanceId,
      jobs,
      sessions: backend.sessions,
      limits: config,
      log,
      route: (envelope) => void this.routeRpc(envelope),
    };
    this.ctx = {
      instanceId: config.instanceId,
      hub: this.hub,
      history: backend.broker,
      publisher: this.publisher,
      jobs: this.jobCtx,
      limits: config,
      log,
    };
  }

  /** The bound port (differs from config.port when that was 0). */
  get port(): number {
    if (!this.server) throw new Error('gateway not started');
    return this.server.port;
  }

  /**
   * Order matters: the server listens (not ready yet); the instance registers, and only then
   * creates and reads its inbox, so that no reaper takes a fresh inbox for an orphan; then it
   * becomes ready. The cluster backend is connected before (and closed after) by the entry
   * point. If stop() is called meanwhile, start() does no more than it did so far.
   */
  async start(): Promise<void> {
    this.state = 'starting';
    this.server = serve(createApp(this), {
      host: this.config.host,
      port: this.config.port,
      // Frames between maxFrameBytes and this get a `too_large` error frame; above it the
      // runtime closes with 1009 without buffering the rest.
      hardFrameLimitBytes: Math.max(2 * this.config.maxFrameBytes, this.config.maxFrameBytes + 64 * 1024),
      // The runtime's hard cut (no close frame) sits above the limit at which the slow-consumer
      // sweep closes a session with 4001.
      sendBufferLimitBytes: 2 * this.config.sendBufferLimitBytes,
      idleTimeoutSec: this.config.idleTimeoutSec,
    });
    this.hub.attach(this.server);
    await this.heartbeat();
    if (this.state !== 'starting') return;
    await this.backend.inbox.start((envelopes) => this.onEnvelopes(envelopes));
    if (this.state !== 'starting') {
      // stop() found no reader to stop: this one started after it.
      await this.backend.inbox.stop();
      return;
    }
    this.backend.onRestored(() => {
      // A stopping instance must not register again: it is about to retire.
      if (this.state !== 'running') return;
      // Not ready until the heartbeat has shown whether the store kept this instance's state.
      this.restoring = true;
      void this.heartbeat(true);
    });
    this.state = 'running';
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.config.heartbeatIntervalMs);
    this.slowConsumerTimer = setInterval(() => {
      this.disconnectSlowConsumers();
      this.resumeTokens.refresh(this.sessions);
    }, SLOW_CONSUMER_SWEEP_MS);
    this.log.info('gateway started', {
      address: `${this.server.hostname}:${this.server.port}`,
      backend: this.backend.kind,
    });
  }

  /** From stop() on, nothing writes this instance's registry entry, inbox or routes again. */
  private get stopping(): boolean {
    return this.state === 'draining' || this.state === 'stopped';
  }

  /**
   * Refreshes the registry entry. If the entry had vanished (the store restarted, or this
   * instance was taken for dead), the routes are re-added: without them no publish would
   * reach this instance's sessions.
   */
  private async heartbeat(afterReconnect = false): Promise<void> {
    if (!this.server || this.stopping) return;
    if (this.heartbeating) {
      // A reconnect during a heartbeat must still get its own check.
      if (afterReconnect) setTimeout(() => void this.heartbeat(true), 50);
      return;
    }
    this.heartbeating = true;
    try {
      const known = await this.backend.registry.heartbeat({
        id: this.instanceId,
        region: this.config.region,
        address: `${this.server.hostname}:${this.server.port}`,
        sessions: this.sessions.size,
        startedAtMs: this.startedAtMs,
        heartbeatAtMs: Date.now(),
      });
      // A heartbeat answered after stop() began restores nothing: the instance retires.
      if (this.stopping) return;
      if (!known && this.registered) {
        this.log.warn('registry entry was lost; restoring inbox and routes', { topics: this.hub.topicCount });
        // Inbox first: a route pointing at a missing inbox would drop envelopes (NOMKSTREAM).
        await this.backend.inbox.ensure();
        await this.hub.restoreRoutes();
      }
      this.registered = true;
      if (afterReconnect) this.restoring = false;
    } catch (error) {
      this.log.warn('heartbeat failed', { error });
      if (afterReconnect) setTimeout(() => void this.heartbeat(true), 200);
    } finally {
      this.heartbeating = false;
    }
  }

  /**
   * Closes sessions whose send buffer is past SEND_BUFFER_LIMIT_BYTES with 4001, so that the
   * client learns why and resumes elsewhere. A client flooded past twice the limit between
   * two sweeps is cut by the runtime without a close frame (1006 at the client), which
   * beats dropping messages silently.
   */
  private disconnectSlowConsumers(): void {
    const threshold = this.config.sendBufferLimitBytes;
    for (const session of this.sessions) {
      if (session.bufferedBytes > threshold) {
        this.log.info('slow consumer disconnected', { session: session.id, bufferedBytes: session.bufferedBytes });
        session.disconnect(CloseCode.SlowConsumer, 'too slow; reconnect and resume');
      }
    }
  }

  /** Delivers a batch from the inbox; resolves when all of it went out (then it is acknowledged). */
  private onEnvelopes(envelopes: readonly Envelope[]): Promise<void> | void {
    let pending: Promise<void>[] | null = null;
    for (const envelope of envelopes) {
      let done: Promise<void> | void = undefined;
      switch (envelope.kind) {
        case 'message':
          done = this.hub.deliver(envelope);
          break;
        case 'rpc':
          done = this.routeRpc(envelope);
          break;
      }
      if (done) (pending ??= []).push(done);
    }
    if (pending) return Promise.all(pending).then(() => {});
  }

  liveInstances(): Promise<InstanceInfo[]> {
    return this.backend.registry.live();
  }

  isReady(): boolean {
    return this.state === 'running' && this.backend.isHealthy() && !this.restoring;
  }

  readiness(): string[] {
    const reasons: string[] = [];
    if (this.state !== 'running') reasons.push(`instance ${this.state}`);
    if (!this.backend.isHealthy()) reasons.push(`${this.backend.kind} backend unreachable`);
    if (this.restoring) reasons.push('restoring state after a store reconnect');
    return reasons;
  }

  /**
   * Opens a session for an accepted connection. With a valid resume token the session keeps
   * its ID and its jobs: it is claimed in the session directory and the replies parked while
   * it was away are delivered right after the welcome.
   */
  openSession(socket: Socket, admission: Extract<Admission, { ok: true }>, resume?: string): Session {
    const { app, userId } = admission;
    const resumedId = resume ? this.tenants.verifyResume(app, userId, resume) : null;
    const id = resumedId ?? `${this.instanceId}.${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
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
    this.sessions.add(session);
    this.byId.set(id, session);
    const welcome = encodeWelcome({
      sessionId: id,
      instanceId: this.instanceId,
      userId,
      resumeToken: this.resumeTokens.issue(app, userId, id),
      ...(resume ? { resumed: resumedId !== null } : {}),
    });
    if (!resumedId) {
      session.send(welcome);
      return session;
    }
    const ttlMs = this.config.rpcMaxTimeoutMs + this.config.resumeWindowMs;
    session.beginResume();
    void this.backend.sessions.claim(id, this.instanceId, ttlMs).then(
      (claimed) => session.resume(welcome, claimed),
      (error) => {
        this.log.error('session resume failed', { session: id, error });
        session.resume(welcome, { parked: [], open: [] });
      },
    );
    return session;
  }

  closeSession(session: Session): void {
    session.close();
    this.sessions.delete(session);
    if (this.byId.get(session.id) !== session) return; // taken over by a resumed connection
    this.byId.delete(session.id);
    if (session.pendingJobs === 0 || this.config.resumeWindowMs === 0 || this.state !== 'running') {
      if (session.pendingJobs > 0) session.jobs.dispose();
      return;
    }
    // Jobs are still running: keep them for the resume window; their replies are parked.
    const expiry = setTimeout(() => {
      this.detached.delete(session.id);
      session.jobs.dispose();
    }, this.config.resumeWindowMs);
    this.detached.set(session.id, { jobs: session.jobs, expiry });
  }

  /**
   * Delivers a job reply (from a worker, or a timeout) to its session: directly when the
   * session is connected here. Otherwise SessionDelivery decides: parked in the directory
   * while this instance still owns the session (disconnected, resumable), or sent to the
   * instance it resumed on. A session that left with jobs running keeps its tracker here
   * for the resume window, which drops repeats and late replies first.
   */
  private async routeRpc(envelope: RpcEnvelope): Promise<void> {
    const session = this.byId.get(envelope.sessionId);
    if (session) {
      session.deliverRpc(envelope);
      return;
    }
    const local = this.detached.get(envelope.sessionId);
    if (local && !local.jobs.accept(envelope)) return;
    try {
      await this.delivery.handOver(envelope, this.instanceId);
    } catch (error) {
      this.log.warn('job reply routing failed', { session: envelope.sessionId, error });
    }
  }

  /**
   * Graceful stop, in steps, each bounded (a step that times out is logged and the next one
   * runs): stop accepting; tell every session to reconnect elsewhere (4000) and give them
   * DRAIN_TIMEOUT_MS; stop the inbox reader; retire (routes, inbox and registry entry go).
   * Ends within stopTimeoutMs whatever state the store is in.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    const listened = this.server !== null;
    this.state = 'draining';
    // An instance that never listened never registered either. Its ID may be another live
    // process's (started twice, the second found the port taken): retiring would remove that one.
    if (listened) await stopInOrder(this.stopSteps(), this.log);
    this.state = 'stopped';
    this.log.info('gateway stopped');
  }

  /** The longest stop() takes: the sum of its steps' bounds. */
  get stopTimeoutMs(): number {
    return this.stopSteps().reduce((sum, step) => sum + step.timeoutMs, 0);
  }

  private stopSteps(): StopStep[] {
    return [
      { name: 'stop accepting', timeoutMs: STOP_STEP_TIMEOUT_MS.stopAccepting, stop: () => this.stopAccepting() },
      { name: 'drain sessions', timeoutMs: this.config.drainTimeoutMs + STOP_STEP_TIMEOUT_MS.closeSessions, stop: () => this.drainSessions() },
      { name: 'stop inbox reader', timeoutMs: STOP_STEP_TIMEOUT_MS.inboxReader, stop: () => this.backend.inbox.stop() },
      { name: 'retire', timeoutMs: STOP_STEP_TIMEOUT_MS.retire, stop: () => this.backend.retire() },
    ];
  }

  private stopAccepting(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.slowConsumerTimer) clearInterval(this.slowConsumerTimer);
    this.server?.stopListening();
  }

  private async drainSessions(): Promise<void> {
    const sessions = this.sessions.size;
    for (const session of this.sessions) session.disconnect(CloseCode.Draining, 'instance draining; reconnect');
    const deadline = Date.now() + this.config.drainTimeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await Bun.sleep(20);
    const stayed = this.sessions.size;
    await this.server?.close();
    for (const session of this.sessions) this.closeSession(session);
    for (const { jobs, expiry } of this.detached.values()) {
      clearTimeout(expiry);
      jobs.dispose();
    }
    this.detached.clear();
    this.log.info('sessions drained', { sessions, closedAfterTimeout: stayed });
  }
}
