/**
 * One gateway instance: the start and stop order of its parts, and its readiness. The parts:
 * the HTTP/WebSocket server (bun.ts, app.ts), the session index (sessionIndex.ts), the hub of
 * local subscriptions (hub.ts), envelope dispatch from the inbox (dispatch.ts), the session
 * sweep (sessionSweep.ts), and the cluster membership (cluster/membership.ts).
 */
import type { Config } from '../config.ts';
import type { ClusterBackend } from '../cluster/backend.ts';
import { Membership } from '../cluster/membership.ts';
import type { InstanceInfo } from '../cluster/registry.ts';
import { SessionDelivery } from '../cluster/sessionDelivery.ts';
import { TopicPublisher } from '../cluster/topicPublisher.ts';
import type { JobPublisher } from '../rpc/jobs.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import { stopInOrder, type StopStep } from '../lib/serviceList.ts';
import type { AppConfig } from '../config.ts';
import { createApp } from './app.ts';
import { AppQuotas } from './appQuotas.ts';
import { Apps, type Admission } from './auth.ts';
import { serve, type RunningServer } from './bun.ts';
import { dispatchEnvelopes } from './dispatch.ts';
import { Hub } from './hub.ts';
import { Placement } from './placement.ts';
import { PresenceTracker } from './presenceTracker.ts';
import { ResumeTokens } from './resumeTokens.ts';
import type { Session } from './session.ts';
import { SessionIndex } from './sessionIndex.ts';
import { SessionSweep } from './sessionSweep.ts';
import { UserSessions } from './userSessions.ts';
import type { Socket } from './socket.ts';

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
  readonly apps: Apps;
  readonly hub: Hub;
  readonly publisher: TopicPublisher;
  readonly sessions: SessionIndex;
  /** The users of the sessions here (user registry, direct delivery). */
  readonly users: UserSessions;
  readonly userInbox: ClusterBackend['userInbox'];
  readonly userRegistry: ClusterBackend['users'];
  /** This instance's share of topic presence. */
  readonly presence: PresenceTracker;
  readonly maxFrameBytes: number;
  readonly log: Logger;
  /** Hash routing's room placement; null unless ROUTING=hash. */
  readonly placement: Placement | null;
  readonly quotas = new AppQuotas();
  private readonly membership: Membership;
  private readonly sweep: SessionSweep;
  private server: RunningServer | null = null;
  private state: State = 'idle';

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
    this.apps = new Apps(config.apps, config.operatorToken);
    const resumeTokens = new ResumeTokens(this.apps, config.resumeWindowMs);
    this.hub = new Hub(config.instanceId, backend.broker, log);
    this.publisher = new TopicPublisher(backend.broker);
    this.users = new UserSessions(config.instanceId, backend.users, log);
    this.userInbox = backend.userInbox;
    this.userRegistry = backend.users;
    this.presence = new PresenceTracker(config.instanceId, backend.presence, config.presenceMaxMembers, log);
    this.sessions = new SessionIndex(
      { instanceId: config.instanceId, resumeWindowMs: config.resumeWindowMs, ownershipTtlMs: config.rpcMaxTimeoutMs + config.resumeWindowMs },
      this.apps,
      resumeTokens,
      backend.sessions,
      new SessionDelivery(backend.inbox, backend.sessions, config.resumeWindowMs, log),
      {
        instanceId: config.instanceId,
        hub: this.hub,
        history: backend.broker,
        publisher: this.publisher,
        jobs: { instanceId: config.instanceId, jobs, sessions: backend.sessions, limits: config, log },
        presence: this.presence,
        limits: config,
        users: { inbox: backend.userInbox, registry: backend.users },
        log,
        auth: this.apps,
        quotas: this.quotas,
      },
      log,
      this.users,
      backend.userInbox,
    );
    this.placement =
      config.routing === 'hash'
        ? new Placement(
            { instanceId: config.instanceId, refreshIntervalMs: config.heartbeatIntervalMs, rebalanceWindowMs: config.rebalanceWindowMs },
            () => this.membership.live(),
            log.child({ component: 'placement' }),
          )
        : null;
    this.sweep = new SessionSweep(this.sessions, config.sendBufferLimitBytes, resumeTokens, log);
    this.membership = new Membership(
      backend,
      { instanceId: config.instanceId, region: config.region, heartbeatIntervalMs: config.heartbeatIntervalMs },
      () => ({ address: this.server ? `${this.server.hostname}:${this.server.port}` : '', sessions: this.sessions.size }),
      // Routes first: the joins that restoring presence may cause are routed to the subscribers here too.
      async () => {
        await this.hub.restoreRoutes();
        await this.users.restore();
        this.presence.restore();
      },
      log,
    );
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
    await this.membership.start();
    if (this.state !== 'starting') return;
    await this.placement?.start();
    await this.backend.inbox.start(
      dispatchEnvelopes({
        message: (envelope) => this.hub.deliver(envelope),
        rpc: (envelope) => this.sessions.deliverReply(envelope),
        // Not awaited: the message waits in its user inbox until confirmed, so the inbox entry
        // can be acknowledged at once, and a long replay never holds this instance's inbox.
        direct: (envelope) => this.users.deliver(envelope),
        presence: (envelope) => this.hub.deliverPresence(envelope),
      }),
    );
    if (this.state !== 'starting') {
      // stop() found no reader to stop: this one started after it.
      await this.backend.inbox.stop();
      return;
    }
    this.state = 'running';
    await this.sweep.start();
    this.log.info('gateway started', {
      address: `${this.server.hostname}:${this.server.port}`,
      backend: this.backend.kind,
    });
  }

  /** From stop() on, nothing writes this instance's registry entry, inbox or routes again. */
  private get stopping(): boolean {
    return this.state === 'draining' || this.state === 'stopped';
  }

  liveInstances(): Promise<InstanceInfo[]> {
    return this.membership.live();
  }

  isReady(): boolean {
    return this.readiness().length === 0;
  }

  readiness(): string[] {
    const reasons: string[] = [];
    if (this.state !== 'running') reasons.push(`instance ${this.state}`);
    if (!this.backend.isHealthy()) reasons.push(`${this.backend.kind} backend unreachable`);
    if (this.membership.isRestoring) reasons.push('restoring state after a store reconnect');
    return reasons;
  }

  openSession(socket: Socket, admission: Extract<Admission, { ok: true }>, resume?: string, room?: string): Session {
    const session = this.sessions.open(socket, admission, resume);
    if (room !== undefined) this.placement?.track(session, room);
    return session;
  }

  /**
   * Whether a session of `app` may open here: under its maxConnections on this instance.
   * (The cluster-wide maxSessionsPerUser of the users issue is checked here too.)
   */
  hasRoomFor(app: AppConfig): boolean {
    return app.maxConnections === undefined || this.sessions.countOf(app.id) < app.maxConnections;
  }

  closeSession(session: Session): void {
    this.placement?.untrack(session);
    this.sessions.close(session);
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
      { name: 'retire', timeoutMs: STOP_STEP_TIMEOUT_MS.retire, stop: () => this.retire() },
    ];
  }

  /** Presence writes end; the retire takes whatever presence is left out, with its leaves. */
  private async retire(): Promise<void> {
    this.presence.stop();
    await this.backend.retire();
  }

  private async stopAccepting(): Promise<void> {
    await this.placement?.stop();
    await this.membership.stop();
    await this.sweep.stop();
    this.server?.stopListening();
  }

  private async drainSessions(): Promise<void> {
    const sessions = this.sessions.size;
    const stayed = await this.sessions.drain(this.config.drainTimeoutMs);
    await this.server?.close();
    this.sessions.clear();
    this.log.info('sessions drained', { sessions, closedAfterTimeout: stayed });
  }
}
