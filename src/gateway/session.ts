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
import { CloseCode, ErrorCode } from '../protocol/codes.ts';
import { parseClientFrame, type PresenceFrame, type PublishFrame, type ReceivedFrame, type RefreshFrame, type SendFrame, type SubscribeFrame, type TopicPresenceFrame, type UnsubscribeFrame, type UserPresenceFrame } from '../protocol/frames.ts';
import { compareOffsets } from '../protocol/offset.ts';
import { fewAdd, fewDelete, fewHas, fewSize, fewValues, type FewStrings } from '../lib/fewStrings.ts';
import type { Logger } from '../lib/log.ts';
import { parseJson } from '../lib/json.ts';
import { encodeAck, encodeDirectFrame, encodeError, encodeMessageFrame, encodeOnlineAck, encodePong, encodePresenceAck, encodeRpc, encodeSendAck, encodeSubscribeAck, encodeUnsubscribed } from './frames.ts';
import { JobTracker, type JobTrackerContext } from '../rpc/jobTracker.ts';
import type { DirectEnvelope, Payload, RpcEnvelope } from '../protocol/envelope.ts';
import { decodeClientBinary, type BinaryPublishFrame, type BinarySendFrame } from '../protocol/binary.ts';
import type { UserRegistry } from '../cluster/users.ts';
import { USER_INBOX_PAGE_MESSAGES, type UserInbox } from '../cluster/userInbox.ts';
import type { Claimed } from '../cluster/sessions.ts';
import { nativeTopic, type Hub, type RecoveryBuffer } from './hub.ts';
import { tracksPresence, type PresenceTracker } from './presenceTracker.ts';
import type { OutFrame, Socket } from './socket.ts';
import type { AppQuotas } from './appQuotas.ts';
import type { Apps } from './auth.ts';
import { OPEN_GRANT, refusedSubscribe, type Grant } from './permissions.ts';
import type { HotCount } from '../metrics/metrics.ts';

/** A paused replay goes on once less than this is queued towards the client. */
const WRITABLE_BELOW_BYTES = 64 * 1024;
/** How often a paused replay looks at the socket's queue. */
const WRITABLE_POLL_MS = 2;

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
  /** This instance's share of topic presence. */
  presence: PresenceTracker;
  limits: SessionLimits;
  /** Direct messages (the user inbox) and user status. */
  users: { inbox: UserInbox; registry: Pick<UserRegistry, 'count'> };
  log: Logger;
  // ---- security (docs/security.md) ----
  /** Verifies the tokens of `refresh` frames. */
  auth: Pick<Apps, 'verifyToken'>;
  /** Per-app quotas of the instance (client publishes count towards maxPublishPerSec). */
  quotas: AppQuotas;
  /** What the metrics count per frame (plain numbers on this path; see metrics/metrics.ts). */
  counts: SessionCounts;
}

export interface SessionCounts {
  framesIn: HotCount;
  framesOut: HotCount;
  error(code: ErrorCode): void;
}

/**
 * The direct messages of a session's user (apps with `allowDirect`). Everything that reaches
 * the session goes through `queue`, one step after another: first the replay of the user
 * inbox (it starts once the welcome went out), then each live envelope, which is dropped at
 * or below `last` and, when its `prev` is above `last`, preceded by the messages in between
 * read from the user inbox. So live messages that arrive during the replay wait behind it and
 * are merged by ID, as the recovery buffer does for topics.
 */
interface DirectState {
  /** The newest message ID sent to this session (or known confirmed): every later one is owed. */
  last: string;
  queue: Promise<void>;
  /** Starts the replay from the user inbox's head at the welcome; null once started. */
  start: ((head: string) => void) | null;
}

/** What subscribing one topic came to, for the ack. */
interface Attached {
  /** Every message after this offset reaches the session; null when it no longer holds the topic. */
  position: string | null;
  /** With `since` for the topic: whether nothing after it is missing; null without. */
  recovered: boolean | null;
}

const GONE: Attached = { position: null, recovered: null };

/** Stands for a frame that came before the welcome beyond the rate limit's burst (answered `rate_limited`). */
const OVER_BURST = Symbol('over burst');

/**
 * What a session holds only while something is under way (its opening, a subscribe, a
 * replay, a refresh) or only for some users (direct messages, presence). Allocated when first
 * needed and dropped once empty again, so that an idle session stays one small object
 * (docs/benchmarks.md, idle sessions).
 */
class SessionExtras {
  /** Client frames that arrived before the welcome went out (a user's session opens in a round trip or two). */
  early: (string | ArrayBuffer | Uint8Array | typeof OVER_BURST)[] | null = null;
  /** Replies that arrived during a resume, before the welcome went out. */
  resuming: RpcEnvelope[] | null = null;
  /** Topics being subscribed, so that a second subscribe to one can report where it ends up. */
  attaching: Map<string, Promise<Attached>> | null = null;
  /** Topics whose live messages still come through the hub's recovery buffer. */
  recoveries: Map<string, RecoveryBuffer> | null = null;
  /** Refreshes run one after the other, so the last one sent is the one that holds. */
  refreshing: Promise<void> | null = null;
  /** The user's direct messages (a user of an app with `allowDirect`). */
  direct: DirectState | null = null;
  /** Presence topics this session counts in (subscribed, with a user ID). */
  present: FewStrings = null;

  get empty(): boolean {
    return (
      this.early === null &&
      this.resuming === null &&
      this.attaching === null &&
      this.recoveries === null &&
      this.refreshing === null &&
      this.direct === null &&
      this.present === null
    );
  }
}

export class Session {
  /** Subscribed topics; most sessions hold one (see FewStrings, and the idle scenario of docs/benchmarks.md). */
  private held: FewStrings = null;
  /** Rate limit: a token bucket kept in two numbers (refilled lazily on each frame). */
  private tokens: number;
  private tokensAtMs: number;
  private closed = false;
  /** What the session's token allows (set once opened, replaced by refresh frames); shared by most sessions. */
  private grant: Grant = OPEN_GRANT;
  /** The rest of the session's state, null while it has none (see SessionExtras). */
  private extras: SessionExtras | null = null;

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
    if (userId !== null && app.allowDirect === true) {
      const direct: DirectState = { last: '0-0', queue: Promise.resolve(), start: null };
      direct.queue = new Promise<string>((resolve) => (direct.start = resolve)).then((head) => this.replayInbox(head));
      this.more.direct = direct;
    }
  }

  /** The extras, allocated if need be. */
  private get more(): SessionExtras {
    return (this.extras ??= new SessionExtras());
  }

  /** Drops the extras once nothing is left in them. */
  private tidy(): void {
    if (this.extras?.empty) this.extras = null;
  }

  /** Whether the session takes direct messages (a user of an app with `allowDirect`). */
  get takesDirect(): boolean {
    return this.extras?.direct != null;
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

  send(frame: OutFrame): void {
    if (this.closed) return;
    this.ctx.counts.framesOut.add();
    this.socket.send(frame);
  }

  /** An error frame for request `id` (counted by code in the metrics). */
  private sendError(id: string | null, code: ErrorCode, message: string): void {
    this.ctx.counts.error(code);
    this.send(encodeError(id, code, message));
  }

  /** Handles one incoming WebSocket message: a JSON text frame, or a binary frame (receiveBinary). */
  receive(raw: string | ArrayBuffer | Uint8Array): void {
    const early = this.extras?.early;
    if (early) {
      // Before the welcome: kept, and handled right after it (the rate limit applies then).
      if (early.length < this.ctx.limits.rateLimitBurst) early.push(raw);
      else early.push(OVER_BURST);
      return;
    }
    this.ctx.counts.framesIn.add();
    if (typeof raw !== 'string') {
      this.receiveBinary(raw instanceof Uint8Array ? raw : new Uint8Array(raw));
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
      case 'refresh':
        this.queueRefresh(frame);
        break;
      case 'send':
        void this.sendDirect(frame);
        break;
      case 'received':
        void this.confirmDirect(frame);
        break;
      case 'presence':
        this.presence(frame);
        break;
    }
  }

  /** A job reply from the inbox or a timer: sent unless its request is already settled. */
  deliverReply(envelope: RpcEnvelope): void {
    const resuming = this.extras?.resuming;
    if (resuming) {
      // Not before the welcome and the parked replies: kept until resume() has sent them.
      resuming.push(envelope);
      return;
    }
    if (!this.jobs.accept(envelope)) return;
    this.send(encodeRpc(envelope));
    this.jobs.delivered(envelope);
  }

  /** Holds replies that come in while the session directory is being claimed (see resume). */
  beginResume(): void {
    this.more.resuming = [];
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
    const arrived = this.extras?.resuming ?? [];
    if (this.extras) this.extras.resuming = null;
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
    const refused = refusedSubscribe(this.grant, this.userId, topics);
    if (refused !== undefined) {
      this.sendError(frame.id, ErrorCode.Forbidden, `topic ${JSON.stringify(refused)} is not allowed for this session; nothing subscribed`);
      return;
    }
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
    const extras = this.more;
    (extras.attaching ??= new Map()).set(topic, attached);
    const forget = () => {
      const attaching = this.extras?.attaching;
      if (attaching?.get(topic) !== attached) return;
      attaching.delete(topic);
      if (attaching.size > 0) return;
      this.extras!.attaching = null;
      this.tidy();
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
    const attaching = this.extras?.attaching?.get(topic);
    const position = attaching ? (await attaching).position : (this.extras?.recoveries?.get(topic)?.last ?? this.ctx.hub.lastDelivered(this.app.id, topic));
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
      const position = hub.lastDelivered(app, topic);
      // After the native subscribe: the session gets its own join, routed here now that the route exists.
      const present = this.enterPresence(topic);
      if (present) {
        await present;
        if (this.closed || !fewHas(this.held, topic)) return GONE;
      }
      return { position, recovered: null };
    }
    // No await between join() and startRecovery(): nothing emitted after the join is missed.
    const buffer = hub.startRecovery(app, topic, {
      send: (frame) => this.send(frame),
      subscribeNative: () => {
        this.forgetRecovery(topic);
        if (!this.closed && fewHas(this.held, topic)) this.socket.subscribe(native);
      },
    });
    (this.more.recoveries ??= new Map()).set(topic, buffer);
    try {
      await joined;
      if (!this.closed && fewHas(this.held, topic)) await this.enterPresence(topic);
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
    const wanted = () => !this.closed && this.extras?.recoveries?.get(topic) === buffer;
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
        if (this.socket.send(encodeMessageFrame(topic, entry.offset, entry.data)) < 0) {
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

  /**
   * Resolves once the socket has written out most of what was queued (or the session closed),
   * checking every WRITABLE_POLL_MS. Polled, not driven by the runtime's `drain` event: a
   * `drain` handler runs JavaScript for every socket that a fan-out backs up (measured: the
   * fan-out's server CPU per delivery rose from 314 to 380 ns with one), while a paused
   * replay is rare and one timer per paused session costs nothing.
   */
  private writable(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.closed || this.socket.getBufferedAmount() < WRITABLE_BELOW_BYTES) resolve();
        else setTimeout(check, WRITABLE_POLL_MS);
      };
      setTimeout(check, WRITABLE_POLL_MS);
    });
  }

  private endRecovery(topic: string): void {
    const buffer = this.extras?.recoveries?.get(topic);
    if (!buffer) return;
    this.forgetRecovery(topic);
    this.ctx.hub.endRecovery(buffer);
  }

  private forgetRecovery(topic: string): void {
    const recoveries = this.extras?.recoveries;
    if (!recoveries?.delete(topic) || recoveries.size > 0) return;
    this.extras!.recoveries = null;
    this.tidy();
  }

  private detach(topic: string): void {
    if (!fewHas(this.held, topic)) return;
    this.held = fewDelete(this.held, topic);
    this.leavePresence(topic);
    this.endRecovery(topic);
    this.socket.unsubscribe(nativeTopic(this.app.id, topic));
    this.ctx.hub.leave(this.app.id, topic);
  }

  private unsubscribe(frame: UnsubscribeFrame): void {
    for (const topic of frame.topics) this.detach(topic);
    this.send(encodeAck({ id: frame.id }));
  }

  /** Publishes a `publish` frame's data as JSON text, or a binary publish frame's bytes. */
  private async publish(frame: PublishFrame | BinaryPublishFrame): Promise<void> {
    if (!this.app.allowClientPublish) {
      this.sendError(frame.id, ErrorCode.Forbidden, `app ${this.app.id} does not allow client publish`);
      return;
    }
    if (this.grant.publish !== null && !this.grant.publish.allows(frame.topic)) {
      this.sendError(frame.id, ErrorCode.Forbidden, `topic ${JSON.stringify(frame.topic)} is not allowed for this session`);
      return;
    }
    if (!this.ctx.quotas.tryPublish(this.app)) {
      this.sendError(frame.id, ErrorCode.RateLimited, `app ${this.app.id} is over its ${this.app.maxPublishPerSec} publishes/s on this instance; not published`);
      return;
    }
    try {
      const offset = await this.ctx.publisher.publishPayload(this.app.id, frame.topic, payloadOf(frame));
      this.send(encodeAck({ id: frame.id, offset }));
    } catch (error) {
      this.ctx.log.error('publish failed', { app: this.app.id, session: this.id, topic: frame.topic, error });
      this.sendError(frame.id, ErrorCode.Internal, 'publish failed; retry');
    }
  }

  // ---- binary frames (protocol/binary.ts, docs/protocol.md) ----------------------------------------

  /**
   * A binary frame: a publish (0x11) or a direct message (0x12) whose data is the frame's
   * payload, answered with JSON text frames like their JSON twins. The rate limit and the
   * size limit (on the payload) apply as to text frames; a malformed frame gets
   * `invalid_frame`, with its request ID when the frame got that far.
   */
  private receiveBinary(raw: Uint8Array): void {
    if (!this.takeToken()) {
      const decoded = decodeClientBinary(raw);
      const id = decoded.ok ? decoded.frame.id : decoded.id;
      this.sendError(id, ErrorCode.RateLimited, `more than ${this.ctx.limits.rateLimitFramesPerSec} frames/s; frame dropped`);
      return;
    }
    const decoded = decodeClientBinary(raw);
    if (!decoded.ok) {
      this.sendError(decoded.id, ErrorCode.InvalidFrame, decoded.issue);
      return;
    }
    const frame = decoded.frame;
    if (frame.data.length > this.ctx.limits.maxFrameBytes) {
      this.sendError(frame.id, ErrorCode.TooLarge, `payload exceeds ${this.ctx.limits.maxFrameBytes} bytes`);
      return;
    }
    if (frame.type === 'publish') void this.publish(frame);
    else void this.sendDirect(frame);
  }
  // ---- end binary frames ----

  // ---- security (docs/security.md) ----

  /** The grant of the token the session was opened with (by SessionIndex, before any frame). */
  authorize(grant: Grant): void {
    this.grant = grant;
  }

  /** When the session's token expires (the sweep closes it then with 4003); null: never. */
  get expiresAtMs(): number | null {
    return this.grant.expiresAtMs;
  }

  private queueRefresh(frame: RefreshFrame): void {
    const previous = this.extras?.refreshing ?? Promise.resolve();
    const current = previous.then(() => this.refresh(frame));
    this.more.refreshing = current;
    void current.finally(() => {
      if (this.extras?.refreshing !== current) return;
      this.extras.refreshing = null;
      this.tidy();
    });
  }

  /**
   * Replaces the session's grant with a fresh token's: same `sub` required. Held topics the
   * new token does not allow are left (an `unsubscribed` frame lists them) before the ack.
   * A refused refresh changes nothing: the old token holds until it expires.
   */
  private async refresh(frame: RefreshFrame): Promise<void> {
    const verified = await this.ctx.auth.verifyToken(this.app, frame.token);
    if (this.closed) return;
    if (!verified.ok) {
      this.sendError(frame.id, ErrorCode.Unauthorized, verified.message);
      return;
    }
    if (verified.userId !== this.userId) {
      this.sendError(frame.id, ErrorCode.Forbidden, 'the refresh token must carry the same sub as the session');
      return;
    }
    this.grant = verified.grant;
    const held = [...fewValues(this.held)];
    const dropped = held.filter((topic) => refusedSubscribe(verified.grant, this.userId, [topic]) !== undefined);
    for (const topic of dropped) this.detach(topic);
    if (dropped.length > 0) this.send(encodeUnsubscribed(dropped, ErrorCode.Forbidden));
    this.send(encodeAck({ id: frame.id }));
  }

  // ---- users: opening, direct messages, user status (docs/users.md) ----------------------

  /**
   * The welcome waits for the session's user to be registered (and its user inbox read):
   * client frames are held meanwhile, so that nothing precedes the welcome.
   */
  beginOpen(): void {
    this.more.early ??= [];
  }

  /**
   * Sends the welcome (with the resumed session's parked replies when `claimed`), starts the
   * user inbox replay from `head` when the session takes direct messages, then handles the
   * client frames that came before.
   */
  opened(welcome: string, claimed: Claimed | null, head: string | null): void {
    if (claimed) this.resume(welcome, claimed);
    else this.send(welcome);
    const direct = this.extras?.direct;
    if (direct?.start && head !== null) {
      direct.start(head);
      direct.start = null;
    }
    const early = this.extras?.early ?? [];
    this.dropEarly();
    for (const raw of early) {
      if (raw === OVER_BURST) this.sendError(null, ErrorCode.RateLimited, 'more frames before the welcome than the burst allows; frame dropped');
      else this.receive(raw);
    }
  }

  /** Refuses the session before its welcome: an error frame, then the close code. */
  refuse(code: ErrorCode, closeCode: number, message: string): void {
    this.dropEarly();
    this.sendError(null, code, message);
    this.disconnect(closeCode, message);
  }

  private dropEarly(): void {
    if (!this.extras) return;
    this.extras.early = null;
    this.tidy();
  }

  /** A direct envelope for this session's user, with its frame (encoded once per instance). */
  deliverDirect(envelope: DirectEnvelope, frame: OutFrame): void {
    const direct = this.extras?.direct;
    if (!direct || this.closed) return;
    direct.queue = direct.queue.then(
      () => this.directLive(direct, envelope, frame),
      () => this.directLive(direct, envelope, frame),
    );
  }

  /**
   * Sends the user inbox from its start up to `head` (the newest ID when the welcome was
   * built), a page at a time, paced by the socket; messages past `head` that a page brings
   * along go too. Everything at or below the end is then owed to nobody: live envelopes at or
   * below it are dropped.
   */
  private async replayInbox(head: string): Promise<void> {
    const direct = this.extras!.direct!;
    const { inbox } = this.ctx.users;
    let last = '0-0';
    try {
      for (;;) {
        const page = await inbox.read(this.app.id, this.userId!, last, USER_INBOX_PAGE_MESSAGES);
        if (this.closed) return;
        for (const m of page) {
          last = m.messageId;
          if (this.socket.send(encodeDirectFrame(m.messageId, m.from, m.data)) < 0) {
            await this.writable();
            if (this.closed) return;
          }
        }
        if (page.length < USER_INBOX_PAGE_MESSAGES || compareOffsets(last, head) >= 0) break;
      }
    } catch (error) {
      // The client cannot be told which messages it missed: it reconnects and replays again.
      this.ctx.log.error('user inbox replay failed', { session: this.id, error });
      this.disconnect(CloseCode.InternalError, 'user inbox replay failed; reconnect');
      return;
    }
    direct.last = compareOffsets(last, head) > 0 ? last : head;
  }

  private async directLive(direct: DirectState, envelope: DirectEnvelope, frame: OutFrame): Promise<void> {
    if (this.closed || compareOffsets(envelope.messageId, direct.last) <= 0) return;
    if (compareOffsets(envelope.prev, direct.last) > 0) {
      // A message before this one has not come through here yet (two senders' inbox writes
      // crossed in a Redis Cluster): read what lies between from the user inbox first.
      try {
        for (const m of await this.ctx.users.inbox.readBetween(this.app.id, this.userId!, direct.last, envelope.messageId)) {
          if (this.closed) return;
          this.send(encodeDirectFrame(m.messageId, m.from, m.data));
          direct.last = m.messageId;
        }
      } catch (error) {
        this.ctx.log.error('direct message gap fill failed', { session: this.id, error });
        this.disconnect(CloseCode.InternalError, 'direct message gap fill failed; reconnect');
        return;
      }
    }
    if (this.closed) return;
    this.send(frame);
    direct.last = envelope.messageId;
  }

  /** Sends a `send` frame's data as JSON text, or a binary send frame's bytes. */
  private async sendDirect(frame: SendFrame | BinarySendFrame): Promise<void> {
    if (this.app.allowDirect !== true) {
      this.sendError(frame.id, ErrorCode.Forbidden, `app ${this.app.id} does not allow direct messages`);
      return;
    }
    if (this.userId === null) {
      this.sendError(frame.id, ErrorCode.Forbidden, 'anonymous sessions cannot send direct messages');
      return;
    }
    try {
      const sent = await this.ctx.users.inbox.send(this.app.id, frame.to, { from: this.userId, data: payloadOf(frame) });
      this.send(encodeSendAck(frame.id, sent.messageId));
    } catch (error) {
      this.ctx.log.error('direct message failed', { session: this.id, error });
      this.sendError(frame.id, ErrorCode.Internal, 'send failed; retry');
    }
  }

  private async confirmDirect(frame: ReceivedFrame): Promise<void> {
    if (!this.takesDirect) {
      const why = this.userId === null ? 'anonymous sessions have no user inbox' : `app ${this.app.id} does not allow direct messages`;
      this.sendError(frame.id, ErrorCode.Forbidden, why);
      return;
    }
    try {
      if (await this.ctx.users.inbox.confirm(this.app.id, this.userId!, frame.upTo)) this.send(encodeAck({ id: frame.id }));
      else this.sendError(frame.id, ErrorCode.UnknownMessage, `upTo: ${frame.upTo} is not one of your messages`);
    } catch (error) {
      this.ctx.log.error('confirming direct messages failed', { session: this.id, error });
      this.sendError(frame.id, ErrorCode.Internal, 'received failed; retry');
    }
  }

  private async userStatus(frame: UserPresenceFrame): Promise<void> {
    if (this.app.allowDirect !== true) {
      this.sendError(frame.id, ErrorCode.Forbidden, `app ${this.app.id} does not allow direct messages, nor user status`);
      return;
    }
    try {
      const counts = await this.ctx.users.registry.count(this.app.id, [...new Set(frame.users)]);
      // A Map in, an object built by Object.fromEntries out: user IDs never index a plain object.
      const online = new Map<string, boolean>();
      for (const [user, sessions] of counts) online.set(user, sessions > 0);
      this.send(encodeOnlineAck(frame.id, online));
    } catch (error) {
      this.ctx.log.error('user status failed', { session: this.id, error });
      this.sendError(frame.id, ErrorCode.Internal, 'presence failed; retry');
    }
  }

  /** `presence`: who is on a topic (`topic`), or which users are online (`users`). */
  private presence(frame: PresenceFrame): void {
    if ('topic' in frame) void this.topicPresence(frame);
    else void this.userStatus(frame);
  }

  // ---- topic presence ----------------------------------------------------------------------

  /**
   * Counts this session in the topic's presence, when the topic tracks it and the session has
   * a user; the promise settles once the store counts it (the subscribe ack waits for it).
   */
  private enterPresence(topic: string): Promise<void> | null {
    if (this.userId === null || !tracksPresence(this.app, topic) || fewHas(this.extras?.present ?? null, topic)) return null;
    this.more.present = fewAdd(this.more.present, topic);
    return this.ctx.presence.join(this.app.id, topic, this.userId);
  }

  private leavePresence(topic: string): void {
    const extras = this.extras;
    if (!extras || !fewHas(extras.present, topic)) return;
    extras.present = fewDelete(extras.present, topic);
    this.tidy();
    this.ctx.presence.leave(this.app.id, topic, this.userId!);
  }

  /** Who is on a presence topic: for its subscribers only. */
  private async topicPresence(frame: TopicPresenceFrame): Promise<void> {
    if (!tracksPresence(this.app, frame.topic)) {
      this.sendError(frame.id, ErrorCode.NoPresence, `topic ${frame.topic} does not track presence (see presenceTopics of app ${this.app.id})`);
      return;
    }
    if (!fewHas(this.held, frame.topic)) {
      this.sendError(frame.id, ErrorCode.Forbidden, `presence of ${frame.topic} is for its subscribers; subscribe first`);
      return;
    }
    try {
      const presence = await this.ctx.presence.members(this.app.id, frame.topic);
      this.send(encodePresenceAck(frame.id, presence));
    } catch (error) {
      this.ctx.log.error('presence request failed', { session: this.id, topic: frame.topic, error });
      this.sendError(frame.id, ErrorCode.Internal, 'presence failed; retry');
    }
  }

  /** Forgets every subscription; called once when the connection has closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const recoveries = this.extras?.recoveries;
    if (recoveries) for (const topic of [...recoveries.keys()]) this.endRecovery(topic);
    for (const topic of fewValues(this.held)) this.ctx.hub.leave(this.app.id, topic);
    this.held = null;
    const extras = this.extras;
    if (extras) {
      for (const topic of fewValues(extras.present)) this.ctx.presence.leave(this.app.id, topic, this.userId!);
      extras.present = null;
      this.tidy();
    }
    // Paused replays see the session closed at their next check, and stop.
  }

  /**
   * Bytes owed to this client: queued in its socket, and live messages waiting in recovery
   * buffers while a replay runs (for the slow-consumer limit).
   */
  get bufferedBytes(): number {
    let bytes = this.socket.getBufferedAmount();
    const recoveries = this.extras?.recoveries;
    if (recoveries) for (const buffer of recoveries.values()) bytes += buffer.waitingChars;
    return bytes;
  }

  /** Asks the client to leave (the runtime then calls close()). */
  disconnect(code: number, reason: string): void {
    this.socket.close(code, reason);
  }
}

/**
 * The data a publish or send frame stores: a binary frame's bytes as they are, a JSON frame's
 * value as JSON text. (JSON.parse never makes a Uint8Array: the type tells the two apart.)
 */
function payloadOf(frame: { data: unknown }): Payload {
  return frame.data instanceof Uint8Array ? frame.data : JSON.stringify(frame.data);
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


