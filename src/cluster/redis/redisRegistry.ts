/**
 * The instance registry in Redis: a sorted set of last heartbeats and a hash of instance
 * descriptions, in one slot so that a heartbeat writes both atomically.
 */
import * as v from 'valibot';
import { InstanceInfoSchema } from '../../protocol/instance.ts';
import type { Logger } from '../../lib/log.ts';
import type { InstanceInfo, InstanceRegistry } from '../registry.ts';
import type { RedisClient } from './connection.ts';
import type { Keys } from './keys.ts';
import { parseJson } from '../../lib/json.ts';

export class RedisRegistry implements InstanceRegistry {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: Keys,
    /** An instance silent for longer than this is dead. */
    private readonly instanceTtlMs: number,
    private readonly log: Logger,
  ) {}

  async heartbeat(info: InstanceInfo): Promise<boolean> {
    const replies = await this.client
      .multi()
      .zadd(this.keys.alive, info.heartbeatAtMs, info.id)
      .hset(this.keys.info, info.id, JSON.stringify(info))
      .exec();
    const added = replies?.[0]?.[1];
    // ZADD answers 1 for a new member: this instance was not registered.
    return added === 0;
  }

  async live(): Promise<InstanceInfo[]> {
    const ids = await this.client.zrangebyscore(this.keys.alive, Date.now() - this.instanceTtlMs, '+inf');
    if (ids.length === 0) return [];
    const raw = await this.client.hmget(this.keys.info, ...ids);
    const out: InstanceInfo[] = [];
    for (const text of raw) {
      if (text === null) continue;
      const parsed = v.safeParse(InstanceInfoSchema, parseJson(text));
      if (parsed.success) out.push(parsed.output);
      else this.log.warn('malformed registry entry skipped', { entry: text.slice(0, 200) });
    }
    return out;
  }

  /** IDs whose last heartbeat is older than the TTL. */
  dead(): Promise<string[]> {
    return this.client.zrangebyscore(this.keys.alive, '-inf', `(${Date.now() - this.instanceTtlMs}`);
  }

  async isRegistered(instanceId: string): Promise<boolean> {
    return (await this.client.zscore(this.keys.alive, instanceId)) !== null;
  }

  async remove(instanceId: string): Promise<void> {
    await this.client.multi().zrem(this.keys.alive, instanceId).hdel(this.keys.info, instanceId).exec();
  }
}
