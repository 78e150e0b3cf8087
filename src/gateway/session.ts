/**
 * One client connection's state machine: it parses and validates every frame, enforces the
 * per-session limits, and drives subscribe (with gap-free recovery by offset, paced by the
 * socket's backpressure), unsubscribe, publish and ping. It only talks to its Socket, the Hub
 * and the cluster interfaces. Topics from the client are keys of Maps only, never of plain
 * objects (where `toString` or `__proto__` would find Object.prototype's).
 */
import type { AppConfig } from '../config.ts';
import { HISTORY_PAGE_MESSAGES, type Broker } from '../cluster/broker.ts';
import type { TopicPublisher } from '../cluster/topicPublisher.ts';
import { ErrorCode } from '../protocol/codes.ts';
import { parseClientFrame, type PublishFrame, type SubscribeFrame, type UnsubscribeFrame } from '../protocol/frames.ts';
import { compareOffsets } from '../protocol/offset.ts';
import { fewAdd, fewDelete, fewHas, fewSize, fewValues, type FewStrings } from '../lib/fewStrings.ts';
import type { Logger } from '../lib/log.ts';
import { parseJson } from '../lib/json.ts';
import { encodeAck, encodeError, encodeMessage, encodePong, encodeRpc, encodeSubscribeAck } from './frames.ts';
import { JobTracker, type JobTrackerContext } from '../rpc/jobTracker.ts';
import type { RpcEnvelope } from '../protocol/envelope.ts';
import type { Claimed } from '../cluster/sessions.ts';
import { nativeTopic, type Hub, type RecoveryBuffer } from './hub.ts';
import type { Socket } from './socket.ts';
import type { HotCount } from '../metrics/metrics.ts';

export interface SessionLimits {
  maxFrameBytes: number;
  maxSubscriptionsPerSession: number;
  rateLimitFramesPerSec: number;
  rateLimitBurst: number;
}

/** What every session on an instance shares. */
export interface SessionContext {
  instanceId: string;
  hub: Hub;
  history: Pick<Broker, 'readSince'>;
  publisher: TopicPublisher;
  /** Shared by the job trackers of all sessions. */
  jobs: JobTrackerContext;
  limits: SessionLimits;
  log: Logger;
  /** What the metrics count per frame (plain numbers on this path; see metrics/metrics.ts). */
  counts: SessionCounts;
}

export interface SessionCounts {
  framesIn: HotCount;
  framesOut: HotCount;
  error(code: ErrorCode): void;
}

/** What subscribing one topic came to, for the ack. */
interface Attached {
  /** Every message after this offset reaches the session; null when it no longer holds the topic. */
  position: string | null;
  /** With `since` for the topic: whether nothing after it is missing; null without. */
  recovered: boolean | null;
}

const GONE: Attached = { position: null, recovered: null };

export class Session {
  /** Subscribed topics; most sessions hold one (see FewStrings, and the idle scenario of docs/benchmarks.md). */
  private held: FewStrings = null;
  /** Rate limit: a token bucket kept in two numbers (refilled lazily on each frame). */
  private tokens: number;
  private tokensAtMs: number;
  /** Topics whose live messages still come through the hub's recovery buffer (allocated on first use). */
  private recoveries: Map<string, RecoveryBuffer> | null = null;
  /** Topics being subscribed, so that a second subscribe to one can report where it ends up (allocated on first use). */
  private attaching: Map<string, Promise<Attached>> | null = null;
  /** Replays waiting for the socket to drain (allocated on first use). */
  private drainWaiters: (() => void)[] | null = null;
  private closed = false;
  /** Replies that arrived during a resume, before the welcome went out; null otherwise. */
  private resuming: RpcEnvelope[] | null = null;

  constructor(
    readonly id: string,
    readonly app: AppConfig,
    readonly userId: string | null,
    private readonly socket: Socket,
    private readonly ctx: SessionContext,
    /** The job tracker of a resumed session (carried over from before). */
    private jobTracker: JobTracker | null = null,
  ) {
    this.tokens = ctx.limits.rateLimitBurst;
    this.tokensAtMs = performance.now();
    jobTracker?.attach((envelope) => this.deliverReply(envelope));
  }

  /** The session's jobs (created with the first); their timeouts come back through deliverReply. */
  get jobs(): JobTracker {
    if (!this.jobTracker) {
      this.jobTracker = new JobTracker(this.id, this.app.id, this.userId, this.ctx.jobs);
      this.jobTracker.attach((envelope) => this.deliverReply(envelope));
    }
    return this.jobTracker;
  }

  /** Jobs still running (without creating a tracker for a session that never ran one). */
  get pendingJobs(): number {
    return this.jobTracker?.pendingCount ?? 0;
  }

  private takeToken(): boolean {
    const now = performance.now();
    const { rateLimitFramesPerSec, rateLimitBurst } = this.ctx.limits;
    this.tokens = Math.min(rateLimitBurst, this.tokens + ((now - this.tokensAtMs) * rateLimitFramesPerSec) / 1000);
    this.tokensAtMs = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(frame: string): void {
    if (this.closed) return;
    this.ctx.counts.framesOut.add();
    this.socket.send(frame);
  }

  /** An error frame for request `id` (counted by code in the metrics). */
  private sendError(id: string | null, code: ErrorCode, message: string): void {
    this.ctx.counts.error(code);
    this.send(encodeError(id, code, message));
  }

  /** Handles one incoming WebSocket message (text, or binary which v1 rejects). */
  receive(raw: string | ArrayBuffer | Uint8Array): void {
    this.ctx.counts.framesIn.add();
    if (typeof raw !== 'string') {
      this.sendError(null, ErrorCode.InvalidFrame, 'binary frames are not part of protocol v1; send JSON text');
      return;
    }
    if (!this.takeToken()) {
      this.sendError(peekId(raw), ErrorCode.RateLimited, `more than ${this.ctx.limits.rateLimitFramesPerSec} frames/s; frame dropped`);
      return;
    }
    // UTF-16 length bounds UTF-8 bytes from above by 3x; count bytes only when it could matter.
    if (raw.length * 3 > this.ctx.limits.maxFrameBytes && Buffer.byteLength(raw) > this.ctx.limits.maxFrameBytes) {
      this.sendError(peekId(raw), ErrorCode.TooLarge, `frame exceeds ${this.ctx.limits.maxFrameBytes} bytes`);
      return;
    }
    const json = parseJson(raw);
    if (json === undefined) {
      this.sendError(null, ErrorCode.InvalidFrame, 'frame is not valid JSON');
      return;
    }
    const parsed = parseClientFrame(json);
    if (!parsed.ok) {
      this.sendError(idOf(json), ErrorCode.InvalidFrame, parsed.issue);
      return;
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case 'subscribe':
        void this.subscribe(frame);
        break;
      case 'unsubscribe':
        this.unsubscribe(frame);
        break;
      case 'publish':
        void this.publish(frame);
        break;
      case 'ping':
        this.send(encodePong(frame.id));
        break;
      case 'rpc':
        void this.jobs.start(frame, (code, message) => this.sendError(frame.id, code, message));
        break;
    }
  }

  /** A job reply from the inbox or a timer: sent unless its request is already settled. */
  deliverReply(envelope: RpcEnvelope): void {
    if (this.resuming) {
      // Not before the welcome and the parked replies: kept until resume() has sent them.
      this.resuming.push(envelope);
      return;
    }
    if (!this.jobs.accept(envelope)) return;
    this.send(encodeRpc(envelope));
    this.jobs.delivered(envelope);
  }

  /** Holds replies that come in while the session directory is being claimed (see resume). */
  beginResume(): void {
    this.resuming = [];
  }

  /**
   * Completes a resume: sends the welcome, then the replies parked while the session was
   * away, then what arrived meanwhile, and takes over the timeouts of the jobs still open.
   * A parked reply goes out only while its job is still open in the directory: a reply
   * that a dead instance had already delivered (it died before acknowledging its inbox
   * entry) is not sent twice. Parked replies were filtered by the tracker that parked them,
   * so they bypass accept() here.
   */
  resume(welcome: string, claimed: Claimed): void {
    const arrived = this.resuming ?? [];
    this.resuming = null;
    this.send(welcome);
    const open = new Set(claimed.open.map((j) => j.requestId));
    for (const envelope of claimed.parked) {
      if (!open.has(envelope.requestId)) continue;
      this.send(encodeRpc(envelope));
      if (envelope.reply === 'progress') continue;
      open.delete(envelope.requestId);
      this.jobs.settle(envelope.requestId);
      this.jobs.delivered(envelope);
    }
    this.jobs.adopt(claimed.open.filter((j) => open.has(j.requestId)));
    for (const envelope of arrived) this.deliverReply(envelope);
  }

  private async subscribe(frame: SubscribeFrame): Promise<void> {
    const topics = [...new Set(frame.topics)];
    const fresh = topics.filter((t) => !fewHas(this.held, t));
    if (fewSize(this.held) + fresh.length > this.ctx.limits.maxSubscriptionsPerSession) {
      this.sendError(frame.id, ErrorCode.LimitExceeded, `at most ${this.ctx.limits.maxSubscriptionsPerSession} subscriptions per session`);
      return;
    }
    const since = frame.since;
    const work: Promise<Attached>[] = [];
    // Reserve synchronously so that concurrent frames see the limit and close() sees the topics.
    for (const topic of topics) {
      if (fewHas(this.held, topic)) {
        work.push(this.heldPosition(topic, since?.has(topic) === true));
      } else {
        this.held = fewAdd(this.held, topic);
        work.push(this.track(topic, this.attach(topic, since?.get(topic))));
      }
    }
    const results = await Promise.allSettled(work);
    if (this.closed) return;
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      for (const topic of fresh) this.detach(topic);
      this.ctx.log.error('subscribe failed', { app: this.app.id, session: this.id, error: (failed as PromiseRejectedResult).reason });
      this.sendError(frame.id, ErrorCode.Internal, 'subscribe failed; retry');
      return;
    }
    const offsets = new Map<string, string>();
    const recovered = since ? new Map<string, boolean>() : null;
    for (const [i, topic] of topics.entries()) {
      const attached = (results[i] as PromiseFulfilledResult<Attached>).value;
      if (attached.position !== null) offsets.set(topic, attached.position);
      if (recovered && attached.recovered !== null) recovered.set(topic, attached.recovered);
    }
    this.send(encodeSubscribeAck(frame.id, offsets, recovered));
  }

  /** Remembers a subscribe in flight until it settles (see heldPosition). */
  private track(topic: string, attached: Promise<Attached>): Promise<Attached> {
    (this.attaching ??= new Map()).set(topic, attached);
    const forget = () => {
      if (this.attaching?.get(topic) !== attached) return;
      this.attaching.delete(topic);
      if (this.attaching.size === 0) this.attaching = null;
    };
    attached.then(forget, forget);
    return attached;
  }

  /**
   * A topic the session holds already: subscribing again changes nothing (`recovered: true`
   * with since) and reports where the session is: where its subscribe in flight ends up, the
   * last offset forwarded while it follows the hub after a replay, or else the hub's last
   * delivered offset (it is on the native topic).
   */
  private async heldPosition(topic: string, withSince: boolean): Promise<Attached> {
    const attaching = this.attaching?.get(topic);
    const position = attaching ? (await attaching).position : (this.recoveries?.get(topic)?.last ?? this.ctx.hub.lastDelivered(this.app.id, topic));
    return { position, recovered: withSince ? true : null };
  }

  /**
   * Makes this session receive `topic`. With `since`, it replays history first: the route is
   * added before history is read (see Broker.publish), live messages emitted meanwhile are
   * buffered and merged by offset, and the hub hands the session over to native fan-out once
   * it has caught up with the replay (see Hub), so that nothing is missed or repeated.
   */
  private async attach(topic: string, since: string | undefined): Promise<Attached> {
    const { hub } = this.ctx;
    const app = this.app.id;
    const native = nativeTopic(app, topic);
    const joined = hub.join(app, topic);
    if (since === undefined) {
      await joined;
      if (this.closed || !fewHas(this.held, topic)) return GONE;
      this.socket.subscribe(native);
      // Read in the same turn as the subscribe: every message the hub emits after it reaches us.
      return { position: hub.lastDelivered(app, topic), recovered: null };
    }
    // No await between join() and startRecovery(): nothing emitted after the join is missed.
    const buffer = hub.startRecovery(app, topic, {
      send: (frame) => this.send(frame),
      subscribeNative: () => {
        this.recoveries?.delete(topic);
        if (!this.closed && fewHas(this.held, topic)) this.socket.subscribe(native);
      },
    });
    (this.recoveries ??= new Map()).set(topic, buffer);
    try {
      await joined;
      return (await this.replay(topic, since, buffer)) ?? GONE;
    } catch (error) {
      this.endRecovery(topic);
      throw error;
    }
  }

  /**
   * Sends what history holds after `since`, a page at a time, then the live messages the
   * buffer took meanwhile, then hands the topic to the hub. Whenever the runtime reports
   * backpressure it waits for the socket to drain: a replay larger than the send buffer
   * limit reaches a client that reads, instead of overflowing its buffer. Live messages keep
   * going to the buffer meanwhile (and count towards the slow-consumer limit). Null when the
   * session stopped wanting the topic on the way.
   */
  private async replay(topic: string, since: string, buffer: RecoveryBuffer): Promise<Attached | null> {
    const { hub, history } = this.ctx;
    const app = this.app.id;
    const wanted = () => !this.closed && this.recoveries?.get(topic) === buffer;
    let page = await history.readSince(app, topic, since, HISTORY_PAGE_MESSAGES);
    if (!wanted()) return null;
    let recovered = page.recovered;
    // Anything appended after this first read comes live, through the buffer: the replay
    // stops here, however fast the topic grows.
    const until = page.head;
    // A since above the head was never issued by this history (a store that lost its data,
    // another deployment): nothing is known after it, so the session goes live from the head
    // (`recovered` is false) instead of waiting for the topic to pass an offset of no meaning.
    let last = compareOffsets(since, until) > 0 ? until : since;
    for (;;) {
      for (const entry of page.entries) {
        last = entry.offset;
        this.ctx.counts.framesOut.add();
        if (this.socket.send(encodeMessage(topic, entry.offset, entry.data)) < 0) {
          await this.writable();
          if (!wanted()) return null;
        }
      }
      if (page.entries.length < HISTORY_PAGE_MESSAGES || compareOffsets(last, until) >= 0) break;
      page = await history.readSince(app, topic, last, HISTORY_PAGE_MESSAGES);
      if (!wanted()) return null;
      // Trimmed past the last page while it was sent: what fell in between is gone.
      if (!page.recovered) recovered = false;
    }
    // More live messages may arrive while the socket drains: take until none is left.
    while (buffer.frames.length > 0) {
      for (const buffered of buffer.take()) {
        if (compareOffsets(buffered.offset, last) <= 0) continue;
        last = buffered.offset;
        this.ctx.counts.framesOut.add();
        if (this.socket.send(buffered.frame) < 0) {
          await this.writable();
          if (!wanted()) return null;
        }
      }
    }
    // Synchronous from the check that the buffer is empty to here: no message can slip in between.
    return { position: hub.finishRecovery(buffer, last), recovered };
  }

  /** Resolves when the runtime reports that the socket drained (or the session closed). */
  private writable(): Promise<void> {
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve));
  }

  /** The runtime wrote out what was queued for this client: paused replays go on. */
  drained(): void {
    const waiters = this.drainWaiters;
    if (!waiters) return;
    this.drainWaiters = null;
    for (const resume of waiters) resume();
  }

  private endRecovery(topic: string): void {
    const buffer = this.recoveries?.get(topic);
    if (!buffer) return;
    this.recoveries!.delete(topic);
    this.ctx.hub.endRecovery(buffer);
  }

  private detach(topic: string): void {
    if (!fewHas(this.held, topic)) return;
    this.held = fewDelete(this.held, topic);
    this.endRecovery(topic);
    this.socket.unsubscribe(nativeTopic(this.app.id, topic));
    this.ctx.hub.leave(this.app.id, topic);
  }

  private unsubscribe(frame: UnsubscribeFrame): void {
    for (const topic of frame.topics) this.detach(topic);
    this.send(encodeAck({ id: frame.id }));
  }

  private async publish(frame: PublishFrame): Promise<void> {
    if (!this.app.allowClientPublish) {
      this.sendError(frame.id, ErrorCode.Forbidden, `app ${this.app.id} does not allow client publish`);
      return;
    }
    try {
      const offset = await this.ctx.publisher.publish(this.app.id, frame.topic, frame.data);
      this.send(encodeAck({ id: frame.id, offset }));
    } catch (error) {
      this.ctx.log.error('publish failed', { app: this.app.id, session: this.id, topic: frame.topic, error });
      this.sendError(frame.id, ErrorCode.Internal, 'publish failed; retry');
    }
  }

  /** Forgets every subscription; called once when the connection has closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.recoveries) for (const topic of this.recoveries.keys()) this.endRecovery(topic);
    for (const topic of fewValues(this.held)) this.ctx.hub.leave(this.app.id, topic);
    this.held = null;
    // Paused replays wake up, see the session closed, and stop.
    this.drained();
  }

  /**
   * Bytes owed to this client: queued in its socket, and live messages waiting in recovery
   * buffers while a replay runs (for the slow-consumer limit).
   */
  get bufferedBytes(): number {
    let bytes = this.socket.getBufferedAmount();
    if (this.recoveries) for (const buffer of this.recoveries.values()) bytes += buffer.waitingChars;
    return bytes;
  }

  /** Asks the client to leave (the runtime then calls close()). */
  disconnect(code: number, reason: string): void {
    this.socket.close(code, reason);
  }
}

/** The `id` of a parsed frame, when it has a usable one, so errors can be correlated. */
function idOf(json: unknown): string | null {
  if (typeof json !== 'object' || json === null) return null;
  const id = (json as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : null;
}

/** Finds a request id in a frame that will not be parsed (too large or rate limited). */
function peekId(raw: string): string | null {
  const m = /"id"\s*:\s*"([^"\\]{1,64})"/.exec(raw.slice(0, 256));
  return m ? m[1]! : null;
}


