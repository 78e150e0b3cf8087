/**
 * In-memory TopicRoutes: the instance IDs per (app, topic), in one map per app keyed by the
 * topic string itself (no `app:topic` key string per topic: in memory mode every idle
 * per-user topic costs its route). A single instance (the usual case in memory mode) is kept
 * as a plain string; a set only when a second one joins.
 */
import type { TopicRoutes } from '../routes.ts';

/** app -> topic -> instance ID, or the set of them when several instances subscribe. */
export type MemoryRouteTable = Map<string, Map<string, string | Set<string>>>;

export class MemoryRoutes implements TopicRoutes {
  constructor(private readonly routes: MemoryRouteTable) {}

  async add(app: string, topic: string, instanceId: string): Promise<void> {
    let topics = this.routes.get(app);
    if (!topics) this.routes.set(app, (topics = new Map()));
    const current = topics.get(topic);
    if (current === undefined) topics.set(topic, instanceId);
    else if (typeof current === 'string') {
      if (current !== instanceId) topics.set(topic, new Set([current, instanceId]));
    } else current.add(instanceId);
  }

  async remove(app: string, topic: string, instanceId: string): Promise<void> {
    const topics = this.routes.get(app);
    const current = topics?.get(topic);
    if (topics === undefined || current === undefined) return;
    if (typeof current === 'string') {
      if (current === instanceId) topics.delete(topic);
    } else {
      current.delete(instanceId);
      if (current.size === 1) topics.set(topic, current.values().next().value!);
    }
    if (topics.size === 0) this.routes.delete(app);
  }

  async instancesFor(app: string, topic: string): Promise<string[]> {
    const current = this.routes.get(app)?.get(topic);
    if (current === undefined) return [];
    return typeof current === 'string' ? [current] : [...current];
  }

  /** Removes the instance from every route (graceful stop). */
  async removeAll(instanceId: string): Promise<void> {
    for (const [app, topics] of [...this.routes]) {
      for (const topic of [...topics.keys()]) await this.remove(app, topic, instanceId);
    }
  }
}
