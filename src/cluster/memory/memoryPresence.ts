/**
 * In-memory Presence, shared by the instances of one MemoryCluster: per (app, topic) the
 * sessions of each user over all instances and per instance; per instance the topics where it
 * holds presence. Joins and leaves go to the inboxes of the instances routed for the topic,
 * read from the broker right after the change (no other change runs in between: nothing here
 * awaits before the send).
 */
import type { PresenceEnvelope } from '../../protocol/envelope.ts';
import type { Broker } from '../broker.ts';
import type { Inbox } from '../inbox.ts';
import type { Presence, PresenceTransitions, TopicPresence } from '../presence.ts';
import { TopicMap } from './topicMap.ts';

interface TopicState {
  /** User -> sessions over every instance. */
  users: Map<string, number>;
  /** Instance -> user -> sessions there. */
  byInstance: Map<string, Map<string, number>>;
}

export class MemoryPresence implements Presence {
  private readonly topics = new TopicMap<TopicState>();
  /** Instance -> app -> topics where it holds presence. */
  private readonly held = new Map<string, Map<string, Set<string>>>();

  constructor(
    private readonly broker: Pick<Broker, 'routes'>,
    private readonly inboxes: Pick<Inbox, 'send'>,
  ) {}

  async update(app: string, topic: string, instanceId: string, sessions: ReadonlyMap<string, number>, full = false): Promise<PresenceTransitions> {
    const transitions = this.apply(app, topic, instanceId, sessions, full);
    await this.announce(app, topic, transitions);
    return transitions;
  }

  private apply(app: string, topic: string, instanceId: string, sessions: ReadonlyMap<string, number>, full: boolean): PresenceTransitions {
    let state = this.topics.get(app, topic);
    if (!state) this.topics.set(app, topic, (state = { users: new Map(), byInstance: new Map() }));
    let mine = state.byInstance.get(instanceId);
    if (!mine) state.byInstance.set(instanceId, (mine = new Map()));
    const targets = new Map(sessions);
    if (full) for (const user of mine.keys()) if (!targets.has(user)) targets.set(user, 0);
    const transitions: PresenceTransitions = { joined: [], left: [] };
    for (const [user, wanted] of targets) {
      const want = Math.max(0, wanted);
      const delta = want - (mine.get(user) ?? 0);
      if (delta === 0) continue;
      if (want > 0) mine.set(user, want);
      else mine.delete(user);
      const before = state.users.get(user) ?? 0;
      const after = Math.max(0, before + delta);
      if (after > 0) state.users.set(user, after);
      else state.users.delete(user);
      if (before === 0 && after > 0) transitions.joined.push(user);
      if (before > 0 && after === 0) transitions.left.push(user);
    }
    if (mine.size === 0) {
      state.byInstance.delete(instanceId);
      this.forget(instanceId, app, topic);
    } else {
      this.remember(instanceId, app, topic);
    }
    if (state.users.size === 0 && state.byInstance.size === 0) this.topics.delete(app, topic);
    return transitions;
  }

  private async announce(app: string, topic: string, { joined, left }: PresenceTransitions): Promise<void> {
    if (joined.length === 0 && left.length === 0) return;
    const instances = await this.broker.routes(app, topic);
    if (instances.length === 0) return;
    const envelope: PresenceEnvelope = { kind: 'presence', app, topic, joined, left };
    await this.inboxes.send(instances.map((instanceId) => ({ instanceId, envelope })));
  }

  async members(app: string, topic: string, limit: number): Promise<TopicPresence> {
    const users = this.topics.get(app, topic)?.users;
    if (!users) return { count: 0, members: [] };
    const listed = [...users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit);
    return { count: users.size, members: listed.map(([user, sessions]) => ({ user, sessions })) };
  }

  async removeInstance(instanceId: string): Promise<number> {
    const apps = this.held.get(instanceId);
    if (!apps) return 0;
    let leaves = 0;
    for (const [app, topics] of [...apps]) {
      for (const topic of [...topics]) leaves += (await this.update(app, topic, instanceId, new Map(), true)).left.length;
    }
    this.held.delete(instanceId);
    return leaves;
  }

  private remember(instanceId: string, app: string, topic: string): void {
    let apps = this.held.get(instanceId);
    if (!apps) this.held.set(instanceId, (apps = new Map()));
    let topics = apps.get(app);
    if (!topics) apps.set(app, (topics = new Set()));
    topics.add(topic);
  }

  private forget(instanceId: string, app: string, topic: string): void {
    const apps = this.held.get(instanceId);
    const topics = apps?.get(app);
    if (!apps || !topics) return;
    topics.delete(topic);
    if (topics.size === 0) apps.delete(app);
    if (apps.size === 0) this.held.delete(instanceId);
  }
}
