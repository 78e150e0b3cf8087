/**
 * Presence: which users are subscribed to a presence topic, over every instance, and how many
 * sessions each has there. Per (app, topic) it keeps
 *
 * - per user, the number of sessions over the cluster (its size is the topic's exact count);
 * - per instance, the sessions each of its users has there: the instance is the authority for
 *   its own sessions, so it states its counts (never increments), which makes a write that is
 *   sent twice (a reconnect that resends a command) harmless; and a dead instance's share can
 *   be taken out whole;
 *
 * and per instance the topics where it holds presence, so that a reaper (or the instance
 * itself on retire or restart) removes all of it without a scan.
 *
 * A change whose user count goes 0 -> n (a join) or n -> 0 (a leave) sends a presence envelope
 * to the inbox of every instance routed for the topic, in the same atomic step as the change
 * (one Redis script on standalone Redis; in a Redis Cluster the inboxes live in other slots and
 * the envelopes follow the script, as a publish's do). Routing therefore comes from the
 * topic's route set (Broker), and a join or leave reaches exactly the instances with
 * subscribers. One seam, like Broker, because the count transition and its event are one
 * operation: split across two interfaces, a caller could change the count and lose the event.
 */
import type { TopicPresence } from '../protocol/frames.ts';

export type { PresenceMember, TopicPresence } from '../protocol/frames.ts';

/** What one update changed: users whose first session joined, users whose last session left. */
export interface PresenceTransitions {
  joined: string[];
  left: string[];
}

export interface Presence {
  /**
   * Sets `instanceId`'s session count of each listed user on the topic (0: none left); with
   * `full`, every user of the instance not listed goes to 0 (a restore). Sends the joins and
   * leaves this causes to the instances routed for the topic. Idempotent. Calls for one
   * (app, topic, instance) must not overlap: the gateway sends the next once the last settled.
   */
  update(app: string, topic: string, instanceId: string, sessions: ReadonlyMap<string, number>, full?: boolean): Promise<PresenceTransitions>;
  /** The topic's users: the exact count, and up to `limit` members sorted by user ID. */
  members(app: string, topic: string, limit: number): Promise<TopicPresence>;
  /**
   * Takes every session of an instance out of presence (it retired, died, or restarted under
   * its ID), with the leaves that causes; resolves with the number of leaves.
   */
  removeInstance(instanceId: string): Promise<number>;
}
