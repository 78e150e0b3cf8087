/** In-memory UserRegistry, shared by the instances of one MemoryCluster. */
import type { UserCount, UserRegistry } from '../users.ts';

/** `app \0 user`: app IDs and user IDs contain no NUL. */
function userKey(app: string, user: string): string {
  return `${app}\u0000${user}`;
}

export class MemoryUsers implements UserRegistry {
  /** User -> instance ID -> sessions there. */
  private readonly byUser = new Map<string, Map<string, number>>();

  async add(app: string, user: string, instanceId: string, limit?: number): Promise<boolean> {
    const key = userKey(app, user);
    let at = this.byUser.get(key);
    if (limit !== undefined && at && total(at) >= limit) return false;
    if (!at) this.byUser.set(key, (at = new Map()));
    at.set(instanceId, (at.get(instanceId) ?? 0) + 1);
    return true;
  }

  async remove(app: string, user: string, instanceId: string): Promise<void> {
    const key = userKey(app, user);
    const at = this.byUser.get(key);
    const n = at?.get(instanceId);
    if (!at || n === undefined) return;
    if (n > 1) at.set(instanceId, n - 1);
    else at.delete(instanceId);
    if (at.size === 0) this.byUser.delete(key);
  }

  /** Synchronous, for MemoryUserInbox.send: the read that follows the append with no await between. */
  instancesOf(app: string, user: string): string[] {
    return [...(this.byUser.get(userKey(app, user))?.keys() ?? [])];
  }

  async locate(app: string, user: string): Promise<Map<string, number>> {
    return new Map(this.byUser.get(userKey(app, user)) ?? []);
  }

  async count(app: string, users: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const user of users) {
      const at = this.byUser.get(userKey(app, user));
      out.set(user, at ? total(at) : 0);
    }
    return out;
  }

  async restore(instanceId: string, counts: readonly UserCount[]): Promise<void> {
    for (const { app, user, sessions } of counts) {
      const key = userKey(app, user);
      let at = this.byUser.get(key);
      if (!at) this.byUser.set(key, (at = new Map()));
      at.set(instanceId, sessions);
    }
  }

  async removeInstance(instanceId: string): Promise<number> {
    let users = 0;
    for (const [key, at] of this.byUser) {
      if (!at.delete(instanceId)) continue;
      users += 1;
      if (at.size === 0) this.byUser.delete(key);
    }
    return users;
  }
}

function total(at: Map<string, number>): number {
  let n = 0;
  for (const sessions of at.values()) n += sessions;
  return n;
}
