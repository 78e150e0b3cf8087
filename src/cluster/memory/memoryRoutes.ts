/**
 * In-memory TopicRoutes: the instance IDs per (app, topic). A single instance (the usual
 * case in memory mode) is kept as a plain string; a set only when a second one joins.
 */
import type { TopicRoutes } from '../routes.ts';

export class MemoryRoutes implements TopicRoutes {
  constructor(private readonly routes: Map<string, string | Set<string>>) {}

  async add(app: string, topic: string, instanceId: string): Promise<void> {
    const key = `${app}:${topic}`;
    const current = this.routes.get(key);
    if (current === undefined) this.routes.set(key, instanceId);
    else if (typeof current === 'string') {
      if (current !== instanceId) this.routes.set(key, new Set([current, instanceId]));
    } else current.add(instanceId);
  }

  async remove(app: string, topic: string, instanceId: string): Promise<void> {
    const key = `${app}:${topic}`;
    const current = this.routes.get(key);
    if (current === undefined) return;
    if (typeof current === 'string') {
      if (current === instanceId) this.routes.delete(key);
      return;
    }
    current.delete(instanceId);
    if (current.size === 1) this.routes.set(key, current.values().next().value!);
  }

  async instancesFor(app: string, topic: string): Promise<string[]> {
    const current = this.routes.get(`${app}:${topic}`);
    if (current === undefined) return [];
    return typeof current === 'string' ? [current] : [...current];
  }
}
