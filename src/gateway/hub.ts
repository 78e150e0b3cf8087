/**
 * The local hub: the index of this instance's subscriptions, and the one place where inbox
 * messages become client frames.
 *
 * - Routes: the instance's route for a topic is added with the first local subscriber and
 *   removed with the last, one operation at a time per topic.
 * - Order: per topic, messages go out in offset order, exactly once. Every envelope names
 *   its predecessor (`prev`); an envelope whose predecessor was not delivered yet (two
 *   publishers raced) makes the hub fill the gap from history first, and an envelope at or
 *   below what was already delivered is dropped.
 * - Fan-out: a message is encoded once and handed to the runtime's native pub/sub, never
 *   once per subscriber.
 * - Recovery: a session replaying history gets live messages through a RecoveryBuffer until
 *   the hub has caught up with its replay, then joins the native topic.
 * - Positions: the offset of the last message the hub delivered on a topic is where a session
 *   that joins the native topic now starts; the subscribe ack reports it.
 */
import { HISTORY_PAGE_MESSAGES, type Broker } from '../cluster/broker.ts';
import type { PresenceEnvelope, TopicMessageEnvelope } from '../protocol/envelope.ts';
import { compareOffsets } from '../protocol/offset.ts';
import { SerialQueue } from '../lib/serialQueue.ts';
import type { Logger } from '../lib/log.ts';
import { encodeMessage, encodePresenceEvent } from './frames.ts';
import type { LocalFanout } from './socket.ts';

/** The runtime topic name for (app, topic). App IDs cannot contain ':', so this is unambiguous. */
export function nativeTopic(app: string, topic: string): string {
  return `${app}:${topic}`;
}

/** Where a recovering session's live messages go. */
export interface RecoverySink {
  send(frame: string): void;
  /** Joins the native topic; called once, when the session no longer needs the buffer. */
  subscribeNative(): void;
}

/**
 * A session's view of a topic while it recovers. `buffering`: it is still replaying history,
 * frames wait here. `following`: replay is done up to `last`; frames above it are forwarded
 * one by one until the hub has delivered `last` itself.
 */
export class RecoveryBuffer {
  mode: 'buffering' | 'following' = 'buffering';
  last = '';
  readonly frames: { offset: string; frame: string }[] = [];
  /**
   * Characters of the frames waiting here (bytes for ASCII JSON): they are owed to the client
   * as much as its socket's send buffer, and count towards the slow-consumer limit.
   */
  waitingChars = 0;
  constructor(readonly topic: LocalTopic, readonly sink: RecoverySink) {}

  /** Takes the frames waiting so far (the session sends them, then looks again). */
  take(): { offset: string; frame: string }[] {
    this.waitingChars = 0;
    return this.frames.splice(0);
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

class LocalTopic {
  subscribers = 0;
  /** Offset of the newest message delivered (or known to be owed to nobody here); null until joined. */
  last: string | null = null;
  /** Envelopes waiting for the join to finish or for a gap to be filled (allocated by the first). */
  queue: TopicMessageEnvelope[] | null = null;
  /** Sessions replaying this topic; allocated by the first (most topics never have one). */
  recovering: Set<RecoveryBuffer> | null = null;
  /** Set while a gap is being filled: settles when the queue has drained again. */
  filling: Promise<void> | null = null;
  joined: Promise<void> = RESOLVED;
  constructor(readonly app: string, readonly topic: string, readonly key: string) {}
}

export class Hub {
  private readonly topics = new Map<string, LocalTopic>();
  private readonly routeOps = new SerialQueue();
  private fanout: LocalFanout | null = null;
  /** Messages emitted to local topics (one per topic, not per subscriber). */
  emittedMessages = 0;
  /** Frames handed to local subscribers by fan-out: per message, its topic's subscriber count (no work per subscriber). */
  deliveredMessages = 0;
  /** Messages fetched from history to fill a gap. */
  backfilledMessages = 0;
  /** Presence joins and leaves emitted to local topics. */
  presenceEvents = 0;

  constructor(
    private readonly instanceId: string,
    private readonly broker: Broker,
    private readonly log: Logger,
  ) {}

  attach(fanout: LocalFanout): void {
    this.fanout = fanout;
  }

  /** Number of distinct (app, topic) pairs with local subscribers. */
  get topicCount(): number {
    return this.topics.size;
  }

  /** Subscriptions of local sessions, over all topics (walks the topics: for scrapes, not hot paths). */
  get subscriptionCount(): number {
    let n = 0;
    for (const t of this.topics.values()) n += t.subscribers;
    return n;
  }

  /**
   * Counts one more local subscriber; resolves once this instance is in the topic's route.
   * The topic's position is read from history before the route is added: messages published
   * in between are then filled from history rather than missed. (For a topic without a log,
   * reading the position creates one, so that history vouches for it later; see
   * Broker.position.)
   */
  join(app: string, topic: string): Promise<void> {
    const key = nativeTopic(app, topic);
    let t = this.topics.get(key);
    if (!t) {
      const created = new LocalTopic(app, topic, key);
      t = created;
      this.topics.set(key, created);
      const joined = this.routeOps.run(key, async () => {
        const position = await this.broker.position(app, topic);
        await this.broker.addRoute(app, topic, this.instanceId);
        created.last = position;
        await this.drain(created);
      });
      created.joined = joined;
      // Once joined, drop the settled promise (one fewer object per topic).
      joined.then(
        () => {
          if (created.joined === joined) created.joined = RESOLVED;
        },
        () => {},
      );
    }
    t.subscribers += 1;
    return t.joined;
  }

  /**
   * The offset of the last message delivered on a joined topic (null when no session here
   * holds it). A session that joins the native topic now receives every message after it.
   */
  lastDelivered(app: string, topic: string): string | null {
    return this.topics.get(nativeTopic(app, topic))?.last ?? null;
  }

  /** Counts one subscriber less; the last one out removes the route. */
  leave(app: string, topic: string): void {
    const key = nativeTopic(app, topic);
    const t = this.topics.get(key);
    if (!t) return;
    t.subscribers -= 1;
    if (t.subscribers > 0) return;
    this.topics.delete(key);
    this.routeOps
      .run(key, () => this.broker.removeRoute(app, topic, this.instanceId))
      .catch((error) => this.log.warn('route remove failed', { app, topic, error }));
  }

  /**
   * After the cluster store lost this instance's routes (a Redis restart, or being reaped
   * while paused): re-adds every local route, then catches each topic up from history.
   * Messages published while the route was missing reached no inbox; without the catch-up
   * they would wait for the next message's gap check.
   */
  async restoreRoutes(): Promise<void> {
    await Promise.all(
      [...this.topics.values()].map(async (t) => {
        await this.broker.addRoute(t.app, t.topic, this.instanceId);
        await this.catchUp(t);
      }),
    );
  }

  /** Emits what history has after the last delivered offset, holding the inbox queue meanwhile. */
  private catchUp(t: LocalTopic): Promise<void> {
    const run = async () => {
      await t.filling;
      await t.joined;
      // Up to the head of the first read: what comes after it is routed here (the route is
      // back) and waits in the queue.
      let until: string | null = null;
      for (;;) {
        const { entries, head } = await this.broker.readSince(t.app, t.topic, t.last!, HISTORY_PAGE_MESSAGES);
        until ??= head;
        for (const entry of entries) {
          if (compareOffsets(entry.offset, t.last!) > 0) {
            this.emit(t, entry.offset, entry.data);
            this.backfilledMessages += 1;
          }
        }
        if (entries.length < HISTORY_PAGE_MESSAGES || compareOffsets(t.last!, until) >= 0) return;
      }
    };
    t.filling = run()
      .catch((error) => this.log.warn('catch-up from history failed', { app: t.app, topic: t.topic, error }))
      .finally(() => {
        t.filling = null;
        return this.drain(t);
      });
    return t.filling;
  }

  /**
   * Starts buffering live messages of a topic for a session about to replay history. Call
   * right after join(), before awaiting it, so that nothing emitted after the join is missed.
   */
  startRecovery(app: string, topic: string, sink: RecoverySink): RecoveryBuffer {
    const t = this.topics.get(nativeTopic(app, topic));
    if (!t) throw new Error(`startRecovery before join: ${app}:${topic}`);
    const buffer = new RecoveryBuffer(t, sink);
    (t.recovering ??= new Set()).add(buffer);
    return buffer;
  }

  /**
   * Replay is done up to `last`. If the hub already delivered `last`, the session joins the
   * native topic now; otherwise it follows the hub until it does. Returns the session's
   * position: every message after it reaches the session (the hub's last delivered offset,
   * or `last` while it follows).
   */
  finishRecovery(buffer: RecoveryBuffer, last: string): string {
    const t = buffer.topic;
    if (t.last !== null && compareOffsets(t.last, last) >= 0) {
      t.recovering?.delete(buffer);
      buffer.sink.subscribeNative();
      return t.last;
    }
    buffer.mode = 'following';
    buffer.last = last;
    return last;
  }

  /** Forgets a buffer (the session left or failed). */
  endRecovery(buffer: RecoveryBuffer): void {
    buffer.topic.recovering?.delete(buffer);
  }

  /** Delivers inbox envelopes; the promise (if any) settles once they all went out. */
  deliver(envelope: TopicMessageEnvelope): Promise<void> | void {
    const t = this.topics.get(nativeTopic(envelope.app, envelope.topic));
    if (!t || t.subscribers === 0) return;
    (t.queue ??= []).push(envelope);
    if (t.last === null) return t.joined;
    if (t.filling) return t.filling;
    return this.drain(t);
  }

  /**
   * Joins and leaves of a presence topic, to the sessions on its native topic here: each
   * event encoded once. They do not wait in the topic's queue: while a gap is filled, an event
   * may go out before messages stored ahead of it (docs/users.md, "Presence"). Sessions still
   * replaying history (not on the native topic yet) do not get them; they ask for presence
   * after their subscribe ack.
   */
  deliverPresence(envelope: PresenceEnvelope): void {
    const t = this.topics.get(nativeTopic(envelope.app, envelope.topic));
    if (!t || t.subscribers === 0 || !this.fanout) return;
    for (const user of envelope.joined) this.fanout.publish(t.key, encodePresenceEvent('join', t.topic, user));
    for (const user of envelope.left) this.fanout.publish(t.key, encodePresenceEvent('leave', t.topic, user));
    this.presenceEvents += envelope.joined.length + envelope.left.length;
  }

  /** Emits queued envelopes in order; pauses to fill a gap from history. */
  private drain(t: LocalTopic): Promise<void> | void {
    const queue = t.queue;
    if (!queue) return;
    while (queue.length > 0) {
      const envelope = queue[0]!;
      const last = t.last!;
      if (compareOffsets(envelope.offset, last) <= 0) {
        queue.shift();
        continue;
      }
      if (compareOffsets(envelope.prev, last) > 0) {
        t.filling = this.fill(t, last, envelope).finally(() => {
          t.filling = null;
          return this.drain(t);
        });
        return t.filling;
      }
      queue.shift();
      this.emit(t, envelope.offset, envelope.data);
    }
  }

  private async fill(t: LocalTopic, after: string, next: TopicMessageEnvelope): Promise<void> {
    try {
      const missing = await this.broker.readBetween(t.app, t.topic, after, next.offset);
      for (const entry of missing) {
        if (compareOffsets(entry.offset, t.last!) > 0) {
          this.emit(t, entry.offset, entry.data);
          this.backfilledMessages += 1;
        }
      }
      if (compareOffsets(t.last!, next.prev) < 0) {
        this.log.warn('gap not in history any more', { app: t.app, topic: t.topic, after: t.last, prev: next.prev });
      }
    } catch (error) {
      this.log.error('gap fill failed; delivering what arrived', { app: t.app, topic: t.topic, error });
    }
    // Whatever history had is out; the next envelope goes out even if the gap remains.
    if (compareOffsets(t.last!, next.prev) < 0) t.last = next.prev;
  }

  private emit(t: LocalTopic, offset: string, data: string): void {
    const frame = encodeMessage(t.topic, offset, data);
    this.fanout?.publish(t.key, frame);
    t.last = offset;
    this.emittedMessages += 1;
    this.deliveredMessages += t.subscribers;
    if (!t.recovering || t.recovering.size === 0) return;
    for (const buffer of t.recovering) {
      if (buffer.mode === 'buffering') {
        buffer.frames.push({ offset, frame });
        buffer.waitingChars += frame.length;
        continue;
      }
      if (compareOffsets(offset, buffer.last) > 0) {
        buffer.sink.send(frame);
        buffer.last = offset;
      }
      if (compareOffsets(offset, buffer.last) >= 0) {
        t.recovering.delete(buffer);
        buffer.sink.subscribeNative();
      }
    }
  }
}
