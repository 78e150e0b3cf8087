/**
 * Presence in Redis. Per (app, topic), in the topic's slot (`{t:app:topic}`, with its history
 * and route set): a hash user -> sessions over every instance (HLEN is the exact count), and
 * per instance a hash user -> sessions there. Per instance, in its slot (`{i:instance}`), the
 * set of `app:topic` where it holds presence. A change is one script (lua/presence.lua): the
 * instance states its counts, the totals follow, and the joins and leaves go to the routed
 * inboxes in the same step on standalone Redis (in a Redis Cluster, right after, through
 * Inbox.send, as RedisBroker does for messages).
 *
 * The index entry is added before the first change on a topic and removed after the change
 * that left the instance without presence there; calls for one (topic, instance) do not
 * overlap (see Presence.update), so an index entry is never removed under a newer change.
 * Whoever cleans up after an instance (the reaper, retire, a restart under the same ID) runs
 * the script with `full` and nothing listed for every topic of the index, then deletes the
 * index: a pass that stops half-way is finished by the next, since the script is idempotent.
 */
import type { PresenceEnvelope } from '../../protocol/envelope.ts';
import type { Addressed, Inbox } from '../inbox.ts';
import type { Presence, PresenceTransitions, TopicPresence } from '../presence.ts';
import type { RedisClient } from './connection.ts';
import type { Keys } from './keys.ts';
import { withScripts, type ScriptedClient } from './scripts.ts';

/** Topics cleared at once when an instance's presence is removed. */
const REMOVE_CONCURRENCY = 32;

export interface RedisPresenceOptions {
  /** The client talks to a Redis Cluster: the envelopes are sent apart from the script. */
  cluster: boolean;
  /** Approximate cap on an inbox's length (see RedisInboxOptions.maxLength). */
  inboxMaxLength: number;
}

export class RedisPresence implements Presence {
  private readonly client: RedisClient & ScriptedClient;

  constructor(
    client: RedisClient,
    private readonly keys: Keys,
    private readonly options: RedisPresenceOptions,
    /** Sends the envelopes in a Redis Cluster. */
    private readonly inbox: Pick<Inbox, 'send'>,
  ) {
    this.client = withScripts(client);
  }

  async update(app: string, topic: string, instanceId: string, sessions: ReadonlyMap<string, number>, full = false): Promise<PresenceTransitions> {
    const index = this.keys.instancePresence(instanceId);
    const member = `${app}:${topic}`;
    const adds = [...sessions.values()].some((n) => n > 0);
    // Index first: presence that exists is always findable by whoever cleans up after us.
    if (adds) await this.client.sadd(index, member);
    const { head, tail } = this.keys.inboxKeyParts;
    const args: (string | number)[] = [
      this.keys.presenceUsers(app, topic),
      this.keys.presenceOf(app, topic, instanceId),
      this.keys.routes(app, topic),
      full ? '1' : '0',
      this.options.cluster ? '' : head,
      this.options.cluster ? '' : tail,
      this.options.inboxMaxLength,
      app,
      topic,
    ];
    for (const [user, n] of sessions) args.push(user, n);
    const [joined, left, routes, empty] = await this.client.syPresence(...args);
    if (empty === 1) await this.client.srem(index, member);
    if (this.options.cluster && routes.length > 0 && joined.length + left.length > 0) {
      const envelope: PresenceEnvelope = { kind: 'presence', app, topic, joined, left };
      await this.inbox.send(routes.map((instanceId): Addressed => ({ instanceId, envelope })));
    }
    return { joined, left };
  }

  async members(app: string, topic: string, limit: number): Promise<TopicPresence> {
    const [count, flat] = await this.client.syPresenceMembers(this.keys.presenceUsers(app, topic), limit);
    const members: TopicPresence['members'] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ user: flat[i]!, sessions: Number(flat[i + 1]) });
    members.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
    return { count, members };
  }

  async removeInstance(instanceId: string): Promise<number> {
    const index = this.keys.instancePresence(instanceId);
    const topics = await this.client.smembers(index);
    let leaves = 0;
    // A few topics at a time: a reaper that clears a large instance must not flood Redis.
    for (let from = 0; from < topics.length; from += REMOVE_CONCURRENCY) {
      const done = await Promise.all(
        topics.slice(from, from + REMOVE_CONCURRENCY).map((member) => {
          const sep = member.indexOf(':');
          return this.update(member.slice(0, sep), member.slice(sep + 1), instanceId, new Map(), true);
        }),
      );
      for (const { left } of done) leaves += left.length;
    }
    await this.client.del(index);
    return leaves;
  }
}
