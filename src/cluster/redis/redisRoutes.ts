/**
 * Topic routes in Redis: a set of instance IDs per (app, topic), next to the topic's history
 * (same slot). Each instance also indexes its own routes so that they can be removed in
 * one sweep when it stops or dies.
 */
import type { TopicRoutes } from '../routes.ts';
import type { RedisClient } from './connection.ts';
import type { Keys } from './keys.ts';

export class RedisRoutes implements TopicRoutes {
  constructor(private readonly client: RedisClient, private readonly keys: Keys) {}

  async add(app: string, topic: string, instanceId: string): Promise<void> {
    // Index first: a route that exists is always findable by whoever cleans up after us.
    await this.client.sadd(this.keys.instanceRoutes(instanceId), `${app}:${topic}`);
    await this.client.sadd(this.keys.routes(app, topic), instanceId);
  }

  async remove(app: string, topic: string, instanceId: string): Promise<void> {
    await this.client.srem(this.keys.routes(app, topic), instanceId);
    await this.client.srem(this.keys.instanceRoutes(instanceId), `${app}:${topic}`);
  }

  instancesFor(app: string, topic: string): Promise<string[]> {
    return this.client.smembers(this.keys.routes(app, topic));
  }

  /** Removes every route of an instance (graceful stop, or reaping a dead one). */
  async removeAll(instanceId: string): Promise<number> {
    const index = this.keys.instanceRoutes(instanceId);
    const members = await this.client.smembers(index);
    await Promise.all(
      members.map((member) => {
        const sep = member.indexOf(':');
        return this.client.srem(this.keys.routes(member.slice(0, sep), member.slice(sep + 1)), instanceId);
      }),
    );
    await this.client.del(index);
    return members.length;
  }
}
