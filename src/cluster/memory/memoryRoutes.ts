/** In-memory TopicRoutes: one set of instance IDs per (app, topic). */
import type { TopicRoutes } from '../routes.ts';

export class MemoryRoutes implements TopicRoutes {
  constructor(private readonly routes: Map<string, Set<string>>) {}

  async add(app: string, topic: string, instanceId: string): Promise<void> {
    const key = `${app}:${topic}`;
    let set = this.routes.get(key);
    if (!set) {
      set = new Set();
      this.routes.set(key, set);
    }
    set.add(instanceId);
  }

  async remove(app: string, topic: string, instanceId: string): Promise<void> {
    const key = `${app}:${topic}`;
    const set = this.routes.get(key);
    if (!set) return;
    set.delete(instanceId);
    if (set.size === 0) this.routes.delete(key);
  }

  async instancesFor(app: string, topic: string): Promise<string[]> {
    const set = this.routes.get(`${app}:${topic}`);
    return set ? [...set] : [];
  }
}
