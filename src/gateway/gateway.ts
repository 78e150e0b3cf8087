/**
 * One gateway instance: owns the sessions, the hub and the HTTP server, reads its inbox,
 * heartbeats into the instance registry, and shuts down in order (stop accepting, drain
 * sessions with the reconnect close code, stop the inbox reader, leave the registry).
 */
import type { Config } from '../config.ts';
import type { ClusterBackend } from '../cluster/backend.ts';
import type { InstanceInfo } from '../cluster/registry.ts';
import { TopicPublisher } from '../cluster/topicPublisher.ts';
import type { Envelope } from '../protocol/envelope.ts';
import { CloseCode } from '../protocol/codes.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import { createApp } from './app.ts';
import { Tenants, type Admission } from './auth.ts';
import { serve, type RunningServer } from './bun.ts';
import { encodeWelcome } from './frames.ts';
import { Hub } from './hub.ts';
import { Session, type SessionContext } from './session.ts';
import type { Socket } from './socket.ts';

/** One getBufferedAmount() call per session this often: about 40 µs per 1,000 sessions. */
const SLOW_CONSUMER_SWEEP_MS = 250;

type State = 'idle' | 'starting' | 'running' | 'draining' | 'stopped';

export class Gateway implements Service {
  readonly instanceId: string;
  readonly tenants: Tenants;
  readonly hub: Hub;
  readonly publisher: TopicPublisher;
  readonly sessions = new Set<Session>();
  readonly maxFrameBytes: number;
  readonly log: Logger;
  private readonly ctx: SessionContext;
  private readonly startedAtMs = Date.now();
  private server: RunningServer | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private slowConsumerTimer: ReturnType<typeof setInterval> | null = null;
  private heartbeating = false;
  private registered = false;
  private state: State = 'idle';
  private nextSession = 0;

  constructor(private readonly config: Config, private readonly backend: ClusterBackend, log: Logger) {
    this.instanceId = config.instanceId;
    this.log = log;
    this.maxFrameBytes = config.maxFrameBytes;
    this.tenants = new Tenants(config.apps);
    this.hub = new Hub(config.instanceId, backend.routes, backend.history, log);
    this.publisher = new TopicPublisher(backend);
    this.ctx = {
      instanceId: config.instanceId,
      hub: this.hub,
      history: backend.history,
      publisher: this.publisher,
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
   * Order matters: the backend connects; the server listens (not ready yet); the instance
   * registers, and only then creates and reads its inbox, so that no reaper takes a fresh
   * inbox for an orphan; then it becomes ready.
   */
  async start(): Promise<void> {
    this.state = 'starting';
    await this.backend.start();
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
    await this.backend.inbox.start((envelopes) => this.onEnvelopes(envelopes));
    this.backend.onRestored(() => void this.heartbeat());
    this.state = 'running';
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.config.heartbeatIntervalMs);
    this.slowConsumerTimer = setInterval(() => this.disconnectSlowConsumers(), SLOW_CONSUMER_SWEEP_MS);
    this.log.info('gateway started', {
      instanceId: this.instanceId,
      address: `${this.server.hostname}:${this.server.port}`,
      backend: this.backend.kind,
    });
  }

  /**
   * Refreshes the registry entry. If the entry had vanished (the store restarted, or this
   * instance was taken for dead), the routes are re-added: without them no publish would
   * reach this instance's sessions.
   */
  private async heartbeat(): Promise<void> {
    if (!this.server || this.heartbeating) return;
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
      if (!known && this.registered) {
        this.log.warn('registry entry was lost; restoring routes', { topics: this.hub.topicCount });
        await this.hub.restoreRoutes();
      }
      this.registered = true;
    } catch (error) {
      this.log.warn('heartbeat failed', { error });
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
      let done: Promise<void> | void;
      switch (envelope.kind) {
        case 'message':
          done = this.hub.deliver(envelope);
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
    return this.state === 'running' && this.backend.isHealthy();
  }

  readiness(): string[] {
    const reasons: string[] = [];
    if (this.state !== 'running') reasons.push(`instance ${this.state}`);
    if (!this.backend.isHealthy()) reasons.push(`${this.backend.kind} backend unreachable`);
    return reasons;
  }

  openSession(socket: Socket, admission: Extract<Admission, { ok: true }>): Session {
    const id = `${this.instanceId}.${(this.nextSession++).toString(36)}`;
    const session = new Session(id, admission.app, admission.userId, socket, this.ctx);
    this.sessions.add(session);
    session.send(encodeWelcome({ sessionId: id, instanceId: this.instanceId, userId: admission.userId }));
    return session;
  }

  closeSession(session: Session): void {
    session.close();
    this.sessions.delete(session);
  }

  /** Graceful stop: sessions are told to reconnect elsewhere, then everything is released. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'draining') return;
    this.state = 'draining';
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.slowConsumerTimer) clearInterval(this.slowConsumerTimer);
    this.server?.stopListening();
    for (const session of this.sessions) session.disconnect(CloseCode.Draining, 'instance draining; reconnect');
    const deadline = Date.now() + this.config.drainTimeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await Bun.sleep(20);
    await this.server?.close();
    for (const session of this.sessions) this.closeSession(session);
    await this.backend.inbox.stop();
    await this.backend.retire().catch((error) => this.log.warn('retire failed', { error }));
    this.state = 'stopped';
    this.log.info('gateway stopped', { instanceId: this.instanceId });
  }
}
