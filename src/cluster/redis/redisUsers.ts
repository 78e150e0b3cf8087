/**
 * The user registry in Redis: per user a hash, instance ID -> sessions there, in the user's
 * slot (`{u:<app>:<user>}:at`, next to the user inbox, which the send script reads it with).
 * Each instance also indexes its users (`{i:<instance>}:users`) so that a retire or the reaper
 * removes them all in one sweep; the index entry is written before the count and removed
 * after it, and this process runs the operations on one user one after another, so that a
 * count never exists without its index entry.
 */
import type { UserCount, UserRegistry } from '../users.ts';
import type { RedisClient } from './connection.ts';
import type { Keys } from './keys.ts';
import { withScripts, type ScriptedClient } from './scripts.ts';

export class RedisUsers implements UserRegistry {
  private readonly client: RedisClient & ScriptedClient;
  /** Per user, the tail of this process's operations on it (see the header). */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(client: RedisClient, private readonly keys: Keys) {
    this.client = withScripts(client);
  }

  add(app: string, user: string, instanceId: string, limit?: number): Promise<boolean> {
    return this.serial(app, user, async () => {
      await this.client.sadd(this.keys.instanceUsers(instanceId), `${app}:${user}`);
      const added = await this.client.syUserAdd(this.keys.userInstances(app, user), instanceId, limit ?? 0);
      if (added === 1) return true;
      // Refused: drop the index entry unless the user has other sessions here.
      if ((await this.client.hexists(this.keys.userInstances(app, user), instanceId)) === 0) {
        await this.client.srem(this.keys.instanceUsers(instanceId), `${app}:${user}`);
      }
      return false;
    });
  }

  remove(app: string, user: string, instanceId: string): Promise<void> {
    return this.serial(app, user, async () => {
      const left = await this.client.syUserRemove(this.keys.userInstances(app, user), instanceId);
      if (left === 0) await this.client.srem(this.keys.instanceUsers(instanceId), `${app}:${user}`);
    });
  }

  async locate(app: string, user: string): Promise<Map<string, number>> {
    const raw = await this.client.hgetall(this.keys.userInstances(app, user));
    const out = new Map<string, number>();
    for (const [instanceId, n] of Object.entries(raw)) if (Number(n) > 0) out.set(instanceId, Number(n));
    return out;
  }

  async count(app: string, users: readonly string[]): Promise<Map<string, number>> {
    // One HVALS per user (auto-pipelined: one round trip per node).
    const all = await Promise.all(users.map((user) => this.client.hvals(this.keys.userInstances(app, user))));
    const out = new Map<string, number>();
    users.forEach((user, i) => out.set(user, all[i]!.reduce((sum, n) => sum + Math.max(0, Number(n)), 0)));
    return out;
  }

  async restore(instanceId: string, counts: readonly UserCount[]): Promise<void> {
    await Promise.all(
      counts.map(({ app, user, sessions }) =>
        this.serial(app, user, async () => {
          await this.client.sadd(this.keys.instanceUsers(instanceId), `${app}:${user}`);
          await this.client.hset(this.keys.userInstances(app, user), instanceId, sessions);
        }),
      ),
    );
  }

  async removeInstance(instanceId: string): Promise<number> {
    const index = this.keys.instanceUsers(instanceId);
    const members = await this.client.smembers(index);
    await Promise.all(
      members.map((member) => {
        // App IDs contain no ':'; user IDs may.
        const sep = member.indexOf(':');
        return this.client.hdel(this.keys.userInstances(member.slice(0, sep), member.slice(sep + 1)), instanceId);
      }),
    );
    await this.client.del(index);
    return members.length;
  }

  private serial<T>(app: string, user: string, op: () => Promise<T>): Promise<T> {
    const key = `${app}\u0000${user}`;
    const run = (this.chains.get(key) ?? Promise.resolve()).then(op, op);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return run;
  }
}
