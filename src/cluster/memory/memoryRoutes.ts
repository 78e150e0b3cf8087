/**
 * In-memory TopicRoutes: the instance IDs per (app, topic), in one map per app keyed by the
 * topic string itself (no `app:topic` key string per topic: in memory mode every idle
 * per-user topic costs its route), each a FewStrings (usually the one instance).
 */
import { fewAdd, fewDelete, fewValues, type FewStrings } from '../../lib/fewStrings.ts';
import type { TopicRoutes } from '../routes.ts';

/** app -> topic -> the instance IDs with subscribers. */
export type MemoryRouteTable = Map<string, Map<string, FewStrings>>;

export class MemoryRoutes implements TopicRoutes {
  constructor(private readonly routes: MemoryRouteTable) {}

  async add(app: string, topic: string, instanceId: string): Promise<void> {
    let topics = this.routes.get(app);
    if (!topics) this.routes.set(app, (topics = new Map()));
    topics.set(topic, fewAdd(topics.get(topic) ?? null, instanceId));
  }

  async remove(app: string, topic: string, instanceId: string): Promise<void> {
    const topics = this.routes.get(app);
    const current = topics?.get(topic);
    if (topics === undefined || current === undefined) return;
    const left = fewDelete(current, instanceId);
    if (left === null) topics.delete(topic);
    else topics.set(topic, left);
    if (topics.size === 0) this.routes.delete(app);
  }

  async instancesFor(app: string, topic: string): Promise<string[]> {
    return [...fewValues(this.routes.get(app)?.get(topic) ?? null)];
  }

  /** Removes the instance from every route (graceful stop). */
  async removeAll(instanceId: string): Promise<void> {
    for (const [app, topics] of [...this.routes]) {
      for (const topic of [...topics.keys()]) await this.remove(app, topic, instanceId);
    }
  }
}
