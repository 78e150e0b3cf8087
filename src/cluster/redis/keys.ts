/**
 * Every Redis key Switchyard writes, in one place. Hash tags (`{…}`) keep the keys that a
 * script touches together in one Redis Cluster slot:
 *   {t:app:topic}  history stream + route set + presence of one topic
 *   {i:instance}   inbox stream + route index + presence index of one instance
 *   {s:session}    owner + mailbox + open jobs of one session (job replies while disconnected)
 *   {reg}          the instance registry
 *   {u:app:user}   user inbox + instances holding the user's sessions + dedupe of one user
 * App IDs and topics cannot contain `{` or `}` (see protocol/names.ts).
 */
export class Keys {
  constructor(readonly prefix: string) {}

  /** Stream: the topic's history; entry IDs are offsets. */
  history(app: string, topic: string): string {
    return `${this.prefix}{t:${app}:${topic}}:h`;
  }

  /**
   * Hash: message ID -> `<offset> <prev>` of the updates stored with a producer's ID during
   * one dedupe window (number `window`: the time divided by the window's length).
   */
  dedupe(app: string, topic: string, window: number): string {
    return `${this.prefix}{t:${app}:${topic}}:dd:${window}`;
  }

  /** String: the instance that owns a session with jobs running. */
  sessionOwner(sessionId: string): string {
    return `${this.prefix}{s:${sessionId}}:owner`;
  }

  /** List: job replies parked for a disconnected session. */
  sessionMailbox(sessionId: string): string {
    return `${this.prefix}{s:${sessionId}}:mailbox`;
  }

  /** Hash: request ID -> deadline (ms) of the session's jobs not answered yet. */
  sessionJobs(sessionId: string): string {
    return `${this.prefix}{s:${sessionId}}:jobs`;
  }

  /** Set: IDs of the instances with local subscribers of the topic. */
  routes(app: string, topic: string): string {
    return `${this.prefix}{t:${app}:${topic}}:r`;
  }

  /** Hash: user -> sessions subscribed to a presence topic over every instance (HLEN: the count). */
  presenceUsers(app: string, topic: string): string {
    return `${this.prefix}{t:${app}:${topic}}:pu`;
  }

  /** Hash: user -> sessions one instance holds on a presence topic (taken out whole when it dies). */
  presenceOf(app: string, topic: string, instanceId: string): string {
    return `${this.prefix}{t:${app}:${topic}}:pi:${instanceId}`;
  }

  /** Set of `app:topic` where the instance holds presence: lets a reaper remove it all. */
  instancePresence(instanceId: string): string {
    return `${this.prefix}{i:${instanceId}}:presence`;
  }

  /** SCAN pattern matching every instance's presence index. */
  get instancePresencePattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}{i:*}:presence`;
  }

  /** The instance ID in a presence index key, or null. */
  instanceOfPresence(key: string): string | null {
    const head = `${this.prefix}{i:`;
    const tail = '}:presence';
    if (!key.startsWith(head) || !key.endsWith(tail)) return null;
    return key.slice(head.length, -tail.length);
  }

  /** Stream: the instance's inbox, read through the consumer group INBOX_GROUP. */
  inbox(instanceId: string): string {
    const { head, tail } = this.inboxKeyParts;
    return `${head}${instanceId}${tail}`;
  }

  /** An inbox key is `head + instance ID + tail` (scripts build it from the route set). */
  get inboxKeyParts(): { head: string; tail: string } {
    return { head: `${this.prefix}{i:`, tail: '}:inbox' };
  }

  /** Set of `app:topic` the instance holds routes for: lets a reaper remove them all. */
  instanceRoutes(instanceId: string): string {
    return `${this.prefix}{i:${instanceId}}:routes`;
  }

  /**
   * Stream: a dead instance's inbox, renamed away by the reaper before it claims the entries,
   * so that nothing can be appended to it meanwhile (writers then find no inbox and look the
   * session up instead).
   */
  reapedInbox(instanceId: string): string {
    return `${this.inbox(instanceId)}:reaped`;
  }

  /** String: held by the one instance that reaps a dead one. */
  reapLock(instanceId: string): string {
    return `${this.prefix}{i:${instanceId}}:reaping`;
  }

  /** Sorted set: instance ID -> last heartbeat (ms). */
  get alive(): string {
    return `${this.prefix}{reg}:alive`;
  }

  /** Hash: instance ID -> InstanceInfo JSON. */
  get info(): string {
    return `${this.prefix}{reg}:info`;
  }

  // ---- users: the user inbox and the user registry share the user's slot ----

  /** Stream: the user inbox, the direct messages not confirmed yet; entry IDs are message IDs. */
  userInbox(app: string, user: string): string {
    return `${this.prefix}{u:${app}:${user}}:in`;
  }

  /** Hash: `acked` (newest ID confirmed) and `lost` (newest ID dropped unconfirmed) of the user inbox. */
  userMeta(app: string, user: string): string {
    return `${this.prefix}{u:${app}:${user}}:meta`;
  }

  /** Hash: instance ID -> sessions of the user there (the user registry). */
  userInstances(app: string, user: string): string {
    return `${this.prefix}{u:${app}:${user}}:at`;
  }

  /** Hash: idempotency key -> `<messageId> <prev>` of the direct messages stored during dedupe window `window`. */
  userDedupe(app: string, user: string, window: number): string {
    return `${this.prefix}{u:${app}:${user}}:dd:${window}`;
  }

  /** Set of `app:user` the instance holds sessions of (so they can be removed in one sweep). */
  instanceUsers(instanceId: string): string {
    return `${this.prefix}{i:${instanceId}}:users`;
  }

  /** SCAN pattern matching every inbox. */
  get inboxPattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}{i:*}:inbox`;
  }

  /** The instance ID in an inbox key, or null. */
  instanceOfInbox(key: string): string | null {
    const { head, tail } = this.inboxKeyParts;
    if (!key.startsWith(head) || !key.endsWith(tail)) return null;
    return key.slice(head.length, -tail.length);
  }
}

export const INBOX_GROUP = 'gw';
