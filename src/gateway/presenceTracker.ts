/**
 * This instance's share of topic presence: per presence topic, how many sessions each user has
 * subscribed here, written to the cluster's Presence as counts this instance states (never as
 * increments). Sessions call join and leave synchronously; the writes follow, one at a time per
 * topic (Presence.update must not overlap for one topic and instance), and what changed while
 * one was in flight goes in the next, in one call: a burst of a thousand joins to one room is
 * a few script calls, and a session that leaves and comes back meanwhile causes no event.
 *
 * Which topics track presence is the app's `presenceTopics` (prefixes); anonymous sessions
 * are not members (the session decides both, see tracksPresence).
 */
import type { AppConfig } from '../config.ts';
import type { Presence, TopicPresence } from '../cluster/presence.ts';
import type { Logger } from '../lib/log.ts';
import { sleep } from '../lib/runtime.ts';
import { nativeTopic } from './hub.ts';

/** After a failed write, the topic's next attempt waits this long (the store may be restarting). */
const RETRY_MS = 1000;

/** Whether the app tracks presence on the topic (one of its `presenceTopics` prefixes starts it). */
export function tracksPresence(app: AppConfig, topic: string): boolean {
  const prefixes = app.presenceTopics;
  if (!prefixes) return false;
  for (const prefix of prefixes) if (topic.startsWith(prefix)) return true;
  return false;
}

class LocalTopic {
  /** User -> sessions subscribed here. */
  readonly local = new Map<string, number>();
  /** Users whose count changed since the last write. */
  dirty = new Set<string>();
  /** The next write states every local user and drops the others (restore). */
  full = false;
  flushing: Promise<void> | null = null;
  /** Settles once the write that takes the current changes is done (allocated on demand). */
  written: PromiseWithResolvers<void> | null = null;
  constructor(readonly app: string, readonly topic: string) {}
}

export class PresenceTracker {
  private readonly topics = new Map<string, LocalTopic>();
  private stopped = false;

  constructor(
    private readonly instanceId: string,
    private readonly presence: Presence,
    /** Most members a presence answer lists (PRESENCE_MAX_MEMBERS). */
    private readonly maxMembers: number,
    private readonly log: Logger,
  ) {}

  /**
   * One more session of `user` subscribed to the topic here. Resolves once the store counts it
   * (or the write failed: it is retried, and the caller need not wait for that), so that a
   * subscribe ack sent after it is followed by a presence answer that includes the session.
   */
  join(app: string, topic: string, user: string): Promise<void> {
    const key = nativeTopic(app, topic);
    let t = this.topics.get(key);
    if (!t) this.topics.set(key, (t = new LocalTopic(app, topic)));
    t.local.set(user, (t.local.get(user) ?? 0) + 1);
    this.changed(key, t, user);
    return (t.written ??= Promise.withResolvers<void>()).promise;
  }

  /** One session of `user` less on the topic here. */
  leave(app: string, topic: string, user: string): void {
    const key = nativeTopic(app, topic);
    const t = this.topics.get(key);
    const had = t?.local.get(user);
    if (!t || had === undefined) return;
    if (had > 1) t.local.set(user, had - 1);
    else t.local.delete(user);
    this.changed(key, t, user);
  }

  /** The topic's presence over the cluster, listing at most PRESENCE_MAX_MEMBERS. */
  members(app: string, topic: string): Promise<TopicPresence> {
    return this.presence.members(app, topic, this.maxMembers);
  }

  /**
   * After the store lost this instance's state (a Redis restart, or being reaped while
   * paused): states every topic's local counts again, whole. Users the store still had from
   * this instance and that are gone here leave; users it lost join again.
   */
  restore(): void {
    for (const [key, t] of this.topics) {
      t.full = true;
      t.flushing ??= this.flush(key, t);
    }
  }

  /** Ends retries; what is not written by now is removed with the instance (retire). */
  stop(): void {
    this.stopped = true;
  }

  /** Sessions subscribed here to presence topics, over all topics (for tests and metrics). */
  get localSessions(): number {
    let n = 0;
    for (const t of this.topics.values()) for (const count of t.local.values()) n += count;
    return n;
  }

  private changed(key: string, t: LocalTopic, user: string): void {
    t.dirty.add(user);
    t.flushing ??= this.flush(key, t);
  }

  /** Writes what changed, then what changed meanwhile, until nothing is left. */
  private async flush(key: string, t: LocalTopic): Promise<void> {
    // Let the current turn's joins and leaves gather into this write.
    await Promise.resolve();
    try {
      while ((t.dirty.size > 0 || t.full) && !this.stopped) {
        const full = t.full;
        const users = t.dirty;
        const written = t.written;
        t.full = false;
        t.dirty = new Set();
        t.written = null;
        const sessions = new Map<string, number>();
        for (const user of full ? t.local.keys() : users) sessions.set(user, t.local.get(user) ?? 0);
        for (const user of users) if (!sessions.has(user)) sessions.set(user, 0);
        try {
          await this.presence.update(t.app, t.topic, this.instanceId, sessions, full);
        } catch (error) {
          this.log.warn('presence update failed; retrying', { app: t.app, topic: t.topic, error });
          for (const user of users) t.dirty.add(user);
          if (full) t.full = true;
          await sleep(RETRY_MS);
        } finally {
          written?.resolve();
        }
      }
    } finally {
      t.flushing = null;
      // Stopped with changes left: nobody waits for them (the retire takes the instance's presence out).
      t.written?.resolve();
      t.written = null;
      if (t.local.size === 0 && t.dirty.size === 0 && !t.full && this.topics.get(key) === t) this.topics.delete(key);
    }
  }
}
