/**
 * One gateway instance: the start and stop order of its parts, and its readiness. The parts:
 * the HTTP/WebSocket server (bun.ts, app.ts), the session index (sessionIndex.ts), the hub of
 * local subscriptions (hub.ts), envelope dispatch from the inbox (dispatch.ts), the session
 * sweep (sessionSweep.ts), the cluster membership (cluster/membership.ts), and the delivery
 * probe (probe.ts). It also moves the parts' counts into the metrics at each scrape.
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
import { TIMED_OUT, withTimeout } from '../lib/timeout.ts';
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
import { DeliveryProbe, type ProbePath } from './probe.ts';
import type { Envelope, TopicMessageEnvelope } from '../protocol/envelope.ts';
import { CloseCode, type ErrorCode } from '../protocol/codes.ts';
import { PROBE_APP } from '../protocol/names.ts';
import { GatewayMetrics, HotCount } from '../metrics/metrics.ts';
import type { SessionCounts } from './session.ts';

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

/** How long a scrape waits for the inbox's figures. */
const INBOX_STATS_TIMEOUT_MS = 500;

type State = 'idle' | 'starting' | 'running' | 'draining' | 'stopped';

export class Gateway implements Service {
  readonly instanceId: string;
  /** No APPS configured (the demo app): the demo page's token route is open. */
  readonly demoMode: boolean;
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
  readonly metrics: GatewayMetrics;
  /** The publish path's probe: unready when it stops coming back. */
  readonly probe: DeliveryProbe;
  /** The RabbitMQ path's probe (through the bridge), with AMQP_URL: a warning when it stops. */
  readonly amqpProbe: DeliveryProbe | null;
  private readonly counts: SessionCounts;
  /** The hub's message counts, moved into the metrics at each scrape. */
  private readonly emitted = new HotCount();
  private readonly delivered = new HotCount();
  /** Messages delivered at the last heartbeat, for the dashboard's rate. */
  private deliveredAtBeat = { count: 0, atMs: Date.now() };
  private inboxLag = 0;
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
    /** Built by the entry point; a private one otherwise (tests). */
    metrics: GatewayMetrics = new GatewayMetrics(),
    /** Publishes an update to RabbitMQ for the bridge (AMQP_URL set): the RabbitMQ path's probe. */
    publishUpdate: ((app: string, topic: string, data: number, expiresInMs: number) => Promise<void>) | null = null,
  ) {
    this.instanceId = config.instanceId;
    this.demoMode = config.demoMode;
    this.metrics = metrics;
    const errors = metrics.errors;
    this.counts = { framesIn: new HotCount(), framesOut: new HotCount(), error: (code: ErrorCode) => errors.inc({ code }) };
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
        jobs: {
          instanceId: config.instanceId,
          jobs,
          sessions: backend.sessions,
          limits: config,
          log,
          observeJob: (outcome, seconds) => metrics.jobDuration.observe({ outcome }, seconds),
        },
        presence: this.presence,
        limits: config,
        users: { inbox: backend.userInbox, registry: backend.users },
        log,
        auth: this.apps,
        quotas: this.quotas,
        counts: this.counts,
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
      () => ({ address: this.server ? `${this.server.hostname}:${this.server.port}` : '', sessions: this.sessions.size, stats: this.statsForRegistry() }),
      // Routes first: the joins that restoring presence may cause are routed to the subscribers here too.
      async () => {
        await this.hub.restoreRoutes();
        await this.probe.restoreRoute();
        await this.amqpProbe?.restoreRoute();
        await this.users.restore();
        this.presence.restore();
      },
      log,
    );
    const route = (topic: string) => backend.broker.addRoute(PROBE_APP, topic, config.instanceId);
    const published: ProbePath = {
      send: async (topic, data) => {
        await backend.broker.publish([{ app: PROBE_APP, topic, items: [{ data }] }]);
      },
      route,
    };
    const probeTiming = { intervalMs: config.probeIntervalMs, timeoutMs: config.probeTimeoutMs };
    this.probe = new DeliveryProbe(published, { topic: `i.${config.instanceId}`, path: backend.kind, ...probeTiming }, metrics, log.child({ component: 'probe' }));
    this.amqpProbe = publishUpdate
      ? new DeliveryProbe(
          { send: (topic, data) => publishUpdate(PROBE_APP, topic, Number(data), config.probeTimeoutMs), route },
          { topic: `a.${config.instanceId}`, path: 'amqp', ...probeTiming },
          metrics,
          log.child({ component: 'probe', path: 'amqp' }),
        )
      : null;
    metrics.onCollect(() => this.collect());
  }

  /** Moves the parts' own counts into the metrics (at each scrape). */
  private async collect(): Promise<void> {
    const m = this.metrics;
    const byApp = new Map<string, number>(this.config.apps.map((a) => [a.id, 0]));
    for (const session of this.sessions) byApp.set(session.app.id, (byApp.get(session.app.id) ?? 0) + 1);
    for (const [app, n] of byApp) m.sessions.set({ app }, n);
    m.subscriptions.set(this.hub.subscriptionCount);
    m.topics.set(this.hub.topicCount);
    this.counts.framesIn.flush(m.framesIn);
    this.counts.framesOut.flush(m.framesOut);
    this.emitted.total = this.hub.emittedMessages;
    this.emitted.flush(m.messagesEmitted);
    this.delivered.total = this.hub.deliveredMessages;
    this.delivered.flush(m.messagesDelivered);
    m.ready.set(this.isReady() ? 1 : 0);
    this.probe.collect();
    this.amqpProbe?.collect();
    // A store that does not answer must not hold the scrape: the inbox figures stay as they were.
    const stats = await withTimeout(this.backend.inbox.stats(), INBOX_STATS_TIMEOUT_MS);
    if (stats === TIMED_OUT) return;
    this.inboxLag = stats.lag;
    m.inboxPending.set(stats.pending);
    m.inboxLag.set(stats.lag);
  }

  /** What the dashboard shows of this instance, written into its registry entry at each heartbeat. */
  private statsForRegistry() {
    const now = Date.now();
    const count = this.hub.deliveredMessages;
    const seconds = Math.max((now - this.deliveredAtBeat.atMs) / 1000, 0.001);
    const deliveredPerSec = Math.round((count - this.deliveredAtBeat.count) / seconds);
    this.deliveredAtBeat = { count, atMs: now };
    // The inbox's lag is read at scrapes; between them it is refreshed here, without waiting.
    void this.backend.inbox.stats().then((s) => (this.inboxLag = s.lag), () => {});
    return {
      topics: this.hub.topicCount,
      deliveredPerSec,
      inboxLag: this.inboxLag,
      probeRoundTripMs: this.probe.lastRoundTripMs,
      ready: this.isReady(),
      draining: this.state === 'draining',
    };
  }

  /**
   * The inbox handler: probes go to the probe, everything else to its kind's handler. The
   * latency of each topic message (publish time carried in the envelope) is recorded here,
   * once per message of the batch: never per subscriber.
   */
  private inboxHandler(): (envelopes: readonly Envelope[]) => Promise<void> | void {
    const dispatch = dispatchEnvelopes({
      message: (envelope) => (envelope.app === PROBE_APP ? this.probeReceived(envelope) : this.hub.deliver(envelope)),
      rpc: (envelope) => this.sessions.deliverReply(envelope),
      // Not awaited: the message waits in its user inbox until confirmed, so the inbox entry
      // can be acknowledged at once, and a long replay never holds this instance's inbox.
      direct: (envelope) => this.users.deliver(envelope),
      presence: (envelope) => this.hub.deliverPresence(envelope),
    });
    const latency = this.metrics.deliveryLatency;
    const batches = this.metrics.inboxBatches;
    return (envelopes) => {
      const done = dispatch(envelopes);
      const now = Date.now();
      for (const envelope of envelopes) {
        if (envelope.kind === 'message' && envelope.ts !== undefined && envelope.app !== PROBE_APP) latency.observe((now - envelope.ts) / 1000);
      }
      batches.inc();
      return done;
    };
  }

  private probeReceived(envelope: TopicMessageEnvelope): void {
    if (envelope.topic === this.probe.topic) this.probe.received(envelope);
    else if (envelope.topic === this.amqpProbe?.topic) this.amqpProbe.received(envelope);
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
      reusePort: this.config.reusePort,
    });
    this.hub.attach(this.server);
    await this.membership.start();
    if (this.state !== 'starting') return;
    await this.placement?.start();
    await this.backend.inbox.start(this.inboxHandler());
    if (this.state !== 'starting') {
      // stop() found no reader to stop: this one started after it.
      await this.backend.inbox.stop();
      return;
    }
    this.state = 'running';
    await this.sweep.start();
    await this.probe.start();
    // Not awaited: the bridge may not run yet, and this path only warns.
    void this.amqpProbe?.start();
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

  dashboardSecrets(): readonly string[] {
    // What opens the server API opens the dashboard: OPERATOR_TOKEN and each app's API keys
    // (`apiKeys`, or the `secret` shorthand without them; see Apps).
    const apiKeys = this.config.apps.flatMap((a) => a.apiKeys ?? (a.secret !== undefined ? [a.secret] : []));
    return [...(this.config.operatorToken ? [this.config.operatorToken] : []), ...apiKeys];
  }

  isReady(): boolean {
    return this.readiness().length === 0;
  }

  readiness(): string[] {
    const reasons: string[] = [];
    if (this.state !== 'running') reasons.push(`instance ${this.state}`);
    if (!this.backend.isHealthy()) reasons.push(`${this.backend.kind} backend unreachable`);
    if (this.membership.isRestoring) reasons.push('restoring state after a store reconnect');
    const probe = this.state === 'running' ? this.probe.problem() : null;
    if (probe) reasons.push(probe);
    return reasons;
  }

  /** What is wrong without making the instance unready: the RabbitMQ path's probe. */
  warnings(): string[] {
    const amqp = this.state === 'running' ? this.amqpProbe?.problem() : null;
    return amqp ? [`${amqp} (is a bridge running?)`] : [];
  }

  openSession(socket: Socket, admission: Extract<Admission, { ok: true }>, resume?: string, room?: string): Session {
    const session = this.sessions.open(socket, admission, resume);
    if (room !== undefined) this.placement?.track(session, room);
    return session;
  }

  /**
   * Whether a session of `app` may open here: under its maxConnections on this instance.
   * (The cluster-wide maxSessionsPerUser of the users issue is checked when the session opens.)
   */
  hasRoomFor(app: AppConfig): boolean {
    return app.maxConnections === undefined || this.sessions.countOf(app.id) < app.maxConnections;
  }

  closeSession(session: Session, code?: number): void {
    this.metrics.closes.inc({ code: closeCodeLabel(code) });
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
    await this.probe.stop();
    await this.amqpProbe?.stop();
    this.server?.stopListening();
  }

  private async drainSessions(): Promise<void> {
    const sessions = this.sessions.size;
    const stayed = await this.sessions.drain(this.config.drainTimeoutMs, this.config.drainWindowMs, () => this.metrics.drainReconnectsSent.inc());
    await this.server?.close();
    this.sessions.clear();
    this.log.info('sessions drained', { sessions, closedAfterTimeout: stayed });
  }
}

/** Close codes of the protocol tables and RFC 6455 (1005: none given, 1006: dropped); any other is "other". */
const KNOWN_CLOSE_CODES = new Set<number>([...Object.values(CloseCode), 1005, 1006]);

function closeCodeLabel(code: number | undefined): string {
  return code !== undefined && KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other';
}
